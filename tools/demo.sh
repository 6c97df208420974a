#!/bin/sh
# demo.sh — hpk's main job on its embedded default: train MobileNetV2 ×0.5 with hpk's polynomial heads
# (fc, stage5, stage4) on Fashion-MNIST (Debian's dataset-fashion-mnist), export the clean inference model,
# and show its accuracy in hpk and in ONNX Runtime. Run through ./dev demo (which builds and installs first).
# EPOCHS (default 1) and RUN (default runs/demo) can be set in the environment.
set -eu
cd "$(dirname "$0")/.."
HPK=build/hpk
RUN=${RUN:-runs/demo}
EPOCHS=${EPOCHS:-1}
rm -rf "$RUN"
echo "== training MobileNetV2 x0.5 with hpk heads on Fashion-MNIST ($EPOCHS epoch(s)) into $RUN"
$HPK train --model mobilenetv2 --width 0.5 --data fashion-mnist --val fashion-mnist:test \
    --epochs "$EPOCHS" --batch 128 --out "$RUN" --log-every 100
echo "== exporting the clean inference model (heads removed, BatchNormalization folded)"
$HPK export "$RUN" -o "$RUN/mobilenetv2_fashion.onnx" --fold-bn
$HPK inspect "$RUN/mobilenetv2_fashion.onnx"
echo "== accuracy of the exported model on the 10,000 test images"
echo "-- hpk:"
$HPK eval "$RUN/mobilenetv2_fashion.onnx" --data fashion-mnist:test
echo "-- ONNX Runtime (independent runtime, same file):"
/usr/bin/python3 tools/ort_fashion_eval.py "$RUN/mobilenetv2_fashion.onnx"
echo "== files: $RUN/checkpoint.hpk (resumable run), $RUN/metrics.csv (per-step metrics),"
echo "          $RUN/mobilenetv2_fashion.onnx (the deployable model)"
