// CRC32C (Castagnoli). Hardware path: the SSE4.2 `crc32` instruction on
// x86-64 (three independent streams are not needed at disk speeds; one
// stream runs at ~8 bytes/cycle-latency-3, several GB/s) or the ARMv8 CRC
// extension. Portable path: slicing-by-8 tables built once.
#include "CPhantomSupport.h"
#include <string.h>
#include <pthread.h>

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_tables(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int s = 1; s < 8; s++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[s][n] = c;
        }
    }
}

uint32_t phantom_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    pthread_once(&table_once, build_tables);
    const unsigned char *p = data;
    uint32_t c = ~crc;
    while (length && ((uintptr_t)p & 7)) { c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8); length--; }
    while (length >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= c;
        c = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
            table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
            table[1][(w >> 48) & 0xff] ^ table[0][(w >> 56) & 0xff];
        p += 8;
        length -= 8;
    }
    while (length--) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__)
#include <cpuid.h>
#define LANE 1360
static uint64_t crc32c_sse42_3way(uint64_t c, const unsigned char **pp, size_t *lengthp);
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = data;
    uint64_t c = ~crc;
    while (length && ((uintptr_t)p & 7)) { c = __builtin_ia32_crc32qi((uint32_t)c, *p++); length--; }
    if (length >= 3 * LANE) c = crc32c_sse42_3way(c, &p, &length);
    while (length >= 32) {
        uint64_t a, b, d, e;
        memcpy(&a, p, 8); memcpy(&b, p + 8, 8); memcpy(&d, p + 16, 8); memcpy(&e, p + 24, 8);
        c = __builtin_ia32_crc32di(c, a);
        c = __builtin_ia32_crc32di(c, b);
        c = __builtin_ia32_crc32di(c, d);
        c = __builtin_ia32_crc32di(c, e);
        p += 32;
        length -= 32;
    }
    while (length >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        length -= 8;
    }
    while (length--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

// Three interleaved streams hide the instruction's 3-cycle latency. Lane
// length LANE bytes; the lanes' registers are combined with the linear map
// "append N zero bytes" (shift tables built once), by linearity of CRC:
//   reg(r0, A|B|C) = Z(|B|+|C|)(reg(r0, A)) ^ Z(|C|)(reg(0, B)) ^ reg(0, C)
static uint32_t shift_one[4][256];   // Z(LANE)
static uint32_t shift_two[4][256];   // Z(2 * LANE)
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2")))
static uint32_t zeros_register(uint32_t reg, size_t bytes) {
    uint64_t c = reg;
    for (size_t i = 0; i < bytes / 8; i++) c = __builtin_ia32_crc32di(c, 0);
    return (uint32_t)c;
}

static void build_shift_tables(void) {
    for (int which = 0; which < 2; which++) {
        size_t n = which == 0 ? LANE : 2 * LANE;
        uint32_t basis[32];
        for (int bit = 0; bit < 32; bit++) basis[bit] = zeros_register(1u << bit, n);
        uint32_t (*table)[256] = which == 0 ? shift_one : shift_two;
        for (int lane = 0; lane < 4; lane++) {
            for (int v = 0; v < 256; v++) {
                uint32_t r = 0;
                for (int b = 0; b < 8; b++) if (v & (1 << b)) r ^= basis[lane * 8 + b];
                table[lane][v] = r;
            }
        }
    }
}

static inline uint32_t apply_shift(uint32_t (*table)[256], uint32_t reg) {
    return table[0][reg & 0xff] ^ table[1][(reg >> 8) & 0xff] ^ table[2][(reg >> 16) & 0xff] ^ table[3][reg >> 24];
}

__attribute__((target("sse4.2")))
static uint64_t crc32c_sse42_3way(uint64_t c, const unsigned char **pp, size_t *lengthp) {
    const unsigned char *p = *pp;
    size_t length = *lengthp;
    pthread_once(&shift_once, build_shift_tables);
    while (length >= 3 * LANE) {
        uint64_t a = c, b = 0, d = 0;
        const unsigned char *pa = p, *pb = p + LANE, *pd = p + 2 * LANE;
        for (size_t i = 0; i < LANE; i += 8) {
            uint64_t wa, wb, wd;
            memcpy(&wa, pa + i, 8); memcpy(&wb, pb + i, 8); memcpy(&wd, pd + i, 8);
            a = __builtin_ia32_crc32di(a, wa);
            b = __builtin_ia32_crc32di(b, wb);
            d = __builtin_ia32_crc32di(d, wd);
        }
        c = apply_shift(shift_two, (uint32_t)a) ^ apply_shift(shift_one, (uint32_t)b) ^ (uint32_t)d;
        p += 3 * LANE;
        length -= 3 * LANE;
    }
    *pp = p;
    *lengthp = length;
    return c;
}

static int has_sse42(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c & bit_SSE4_2) != 0;
}
#define HW_CRC crc32c_sse42
#define HW_PROBE has_sse42
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>
static uint32_t crc32c_arm(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = data;
    uint32_t c = ~crc;
    while (length >= 8) { uint64_t w; memcpy(&w, p, 8); c = __crc32cd(c, w); p += 8; length -= 8; }
    while (length--) c = __crc32cb(c, *p++);
    return ~c;
}
static int has_arm_crc(void) { return 1; }
#define HW_CRC crc32c_arm
#define HW_PROBE has_arm_crc
#endif

#ifdef HW_CRC
static int hardware = 0;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static void probe(void) { hardware = HW_PROBE(); }
int phantom_crc32c_is_hardware(void) {
    pthread_once(&probe_once, probe);
    return hardware;
}
uint32_t phantom_crc32c(uint32_t crc, const void *data, size_t length) {
    if (phantom_crc32c_is_hardware()) return HW_CRC(crc, data, length);
    return phantom_crc32c_portable(crc, data, length);
}
#else
int phantom_crc32c_is_hardware(void) { return 0; }
uint32_t phantom_crc32c(uint32_t crc, const void *data, size_t length) {
    return phantom_crc32c_portable(crc, data, length);
}
#endif
