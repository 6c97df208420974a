/* ir_rng.h — hpk's deterministic random numbers (PCG32): initializers, dropout, shuffling, augmentation. */
#ifndef HPK_IR_RNG_H
#define HPK_IR_RNG_H

#include <stdint.h>

typedef struct ir_rng {
    uint64_t state, inc;
    int has_spare; /* Box-Muller keeps its second normal */
    double spare;
} ir_rng;

void ir_rng_seed(ir_rng *r, uint64_t seed, uint64_t stream);
uint32_t ir_rng_u32(ir_rng *r);
/* uniform in [0, 1) with 53 random bits */
double ir_rng_uniform(ir_rng *r);
/* uniform integer in [0, n) without modulo bias; n > 0 */
uint32_t ir_rng_below(ir_rng *r, uint32_t n);
/* standard normal */
double ir_rng_normal(ir_rng *r);

#endif
