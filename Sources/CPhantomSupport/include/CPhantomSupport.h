// C helpers for Phantom's hot paths. Kept tiny: only what Swift cannot say
// portably (CPU-specific instructions).
#ifndef C_PHANTOM_SUPPORT_H
#define C_PHANTOM_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

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
