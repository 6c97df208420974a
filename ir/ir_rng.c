/* ir_rng.c — PCG32 (O'Neill, pcg-random.org, XSH-RR variant) with Box-Muller normals. */
#include <math.h>

#include "ir_rng.h"

void ir_rng_seed(ir_rng *r, uint64_t seed, uint64_t stream)
{
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    r->has_spare = 0;
    r->spare = 0;
    ir_rng_u32(r);
    r->state += seed;
    ir_rng_u32(r);
}

uint32_t ir_rng_u32(ir_rng *r)
{
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ull + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

double ir_rng_uniform(ir_rng *r)
{
    uint64_t hi = ir_rng_u32(r) >> 5, lo = ir_rng_u32(r) >> 6; /* 27 + 26 bits */
    return ((double)hi * 67108864.0 + (double)lo) / 9007199254740992.0;
}

uint32_t ir_rng_below(ir_rng *r, uint32_t n)
{
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t x = ir_rng_u32(r);
        if (x >= threshold)
            return x % n;
    }
}

double ir_rng_normal(ir_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * ir_rng_uniform(r) - 1.0;
        v = 2.0 * ir_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double m = sqrt(-2.0 * log(s) / s);
    r->spare = v * m;
    r->has_spare = 1;
    return u * m;
}
