//go:build !purego

#include "textflag.h"

// func Lines(addr, n uintptr)
//
// PRFM PSTL1KEEP (prefetch for store into L1) on every cache line of
// [addr, addr+n). A hint: it never faults.
TEXT ·Lines(SB), NOSPLIT|NOFRAME, $0-16
	MOVD addr+0(FP), R0
	MOVD n+8(FP), R1
	ADD  R0, R1
	AND  $~63, R0
loop:
	PRFM (R0), PSTL1KEEP
	ADD  $64, R0
	CMP  R1, R0
	BLO  loop
	RET
