// C helpers for Phantom's hot paths. Kept tiny: only what Swift cannot say
// portably (CPU-specific instructions).
#ifndef C_PHANTOM_SUPPORT_H
#define C_PHANTOM_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/// Extends a CRC32C (Castagnoli, reflected, polynomial 0x82F63B78) over
/// `length` bytes. Pass 0 as `crc` to start; the result is final (the
/// pre/post inversion is done inside), so calls chain:
/// crc(ab) == phantom_crc32c(phantom_crc32c(0, a), b).
/// Uses the SSE4.2 or ARMv8 CRC instruction when the CPU has it.
uint32_t phantom_crc32c(uint32_t crc, const void *data, size_t length);

/// The same function computed with tables only (for tests of the fast path).
uint32_t phantom_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// 1 if phantom_crc32c uses a hardware instruction on this CPU.
int phantom_crc32c_is_hardware(void);

#endif

#ifndef C_PHANTOM_ATOMICS
#define C_PHANTOM_ATOMICS
/// Atomic operations on 32-bit words in memory that Swift code owns
/// (the per-page state array of the persistent space).
static inline uint32_t phantom_atomic_load_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
/// A relaxed load: a plain move on x86-64 and arm64, but a defined one.
static inline uint32_t phantom_atomic_load_relaxed_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void phantom_atomic_store_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
/// Replaces *p with `desired` if it equals `expected`; returns 1 if it did.
static inline bool phantom_atomic_cas_u32(uint32_t *p, uint32_t expected, uint32_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
#endif
