#!/bin/sh
# protoc-c-flat.sh — runs protoc-c on onnx/onnx.proto and places onnx.pb-c.{c,h} flat in the output folder.
# usage: protoc-c-flat.sh PROTOC_C PROTO_ROOT OUTDIR   (PROTO_ROOT holds onnx/onnx.proto)
set -e
protoc_c="$1"; root="$2"; out="$3"
tmp="$out/protoc-c.tmp"
rm -rf "$tmp"; mkdir -p "$tmp"
"$protoc_c" "--proto_path=$root" "--c_out=$tmp" "$root/onnx/onnx.proto"
sed 's|#include "onnx/onnx.pb-c.h"|#include "onnx.pb-c.h"|' "$tmp/onnx/onnx.pb-c.c" > "$out/onnx.pb-c.c"
cp "$tmp/onnx/onnx.pb-c.h" "$out/onnx.pb-c.h"
rm -rf "$tmp"
