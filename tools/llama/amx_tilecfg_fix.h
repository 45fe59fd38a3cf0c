/* Force-included into every C/C++ file of the llama.cpp build on hosts whose compiler enables AMX
 * (see tools/llama/build.py); it defines nothing elsewhere.
 *
 * GCC 12 (Debian 12's compiler) declares the AMX memory intrinsics with inline-asm operands that understate what
 * the instructions touch:
 *   _tile_loadconfig  "m" (*(const void **)cfg)   LDTILECFG reads 64 bytes; GCC is told 8
 *   _tile_loadd       "r" (base), "r" (stride)   TILELOADD reads memory; GCC is told nothing
 * ggml's AMX kernels (ggml-cpu/amx/mmq.cpp) fill a tile configuration on the stack and load it with
 * _tile_loadconfig: GCC drops the stores of every tile's rows and colsb as dead (see the disassembly in
 * BENCHMARKS.md), LDTILECFG loads palette 1 with no tile configured, and the next tile instruction faults
 * (the general protection fault in ggml_backend_amx_mul_mat). The same understatement lets GCC move the stores
 * that fill a scratch tile (unpack_A into Tile23) past the TILELOADD that reads it.
 * These redefinitions give each instruction the memory operand it really has.
 */
#if defined(__x86_64__) && defined(__AMX_TILE__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#undef _tile_loadconfig
#define _tile_loadconfig(config) \
    __asm__ volatile("ldtilecfg\t%0" ::"m"(*(const unsigned char(*)[64])(config)))
#undef _tile_storeconfig
#define _tile_storeconfig(config) \
    __asm__ volatile("sttilecfg\t%0" : "=m"(*(unsigned char(*)[64])(config)))
#undef _tile_loadd_internal
#define _tile_loadd_internal(dst, base, stride) \
    __asm__ volatile("tileloadd\t(%0,%1,1), %%tmm" #dst ::"r"((const void *)(base)), "r"((long)(stride)) : "memory")
#undef _tile_stream_loadd_internal
#define _tile_stream_loadd_internal(dst, base, stride) \
    __asm__ volatile("tileloaddt1\t(%0,%1,1), %%tmm" #dst ::"r"((const void *)(base)), "r"((long)(stride)) : "memory")
#endif
