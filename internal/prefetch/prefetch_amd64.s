//go:build !purego

#include "textflag.h"

// func Lines(addr, n uintptr)
//
// PREFETCHW (0F 0D /1, spelled in bytes: the assembler lacks the mnemonic)
// on every cache line of [addr, addr+n). It is a hint: it never faults, and
// on a CPU without it the encoding is a NOP.
TEXT ·Lines(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ addr+0(FP), AX
	MOVQ n+8(FP), CX
	ADDQ AX, CX
	ANDQ $~63, AX
loop:
	BYTE $0x0F; BYTE $0x0D; BYTE $0x08 // PREFETCHW (AX)
	ADDQ $64, AX
	CMPQ AX, CX
	JCS  loop
	RET
