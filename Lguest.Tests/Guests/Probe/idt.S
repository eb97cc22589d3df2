/* One 16-byte entry stub per vector, then a common path into C.
 *
 * Each stub pushes a zero in place of the error code for the vectors where
 * the CPU pushes none, so every frame looks alike (struct interrupt_frame in
 * interrupts.h): pushal, vector, error code, then EIP, CS, EFLAGS. */

#define IDT_STUB_SIZE 16

	.text
	.code32
	.p2align 4
	.globl interrupt_stubs
interrupt_stubs:
	vector = 0
	.rept 256
0:
	/* #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP, #VC, #SX push an error code. */
	.if (vector == 8) || ((vector >= 10) && (vector <= 14)) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
	.else
	pushl $0
	.endif
	pushl $vector
	jmp interrupt_common
	.fill 0b + IDT_STUB_SIZE - ., 1, 0xcc
	vector = vector + 1
	.endr

interrupt_common:
	pushal
	cld
	pushl %esp                       /* struct interrupt_frame * */
	call interrupt_dispatch
	addl $4, %esp
	cmpb $0, interrupt_return_with_iret
	je 1f
	popal
	addl $8, %esp                    /* vector, error code */
	iret

	/* The same return without iret, for instruction emulators that cannot
	 * do a protected-mode iret: reorder the frame to EFLAGS, EIP, then
	 * popfl; ret $4 (CS is ours and unchanged, so dropping it is safe).
	 * An interrupt taken between popfl and ret nests harmlessly. */
1:	movl 48(%esp), %eax              /* EFLAGS */
	movl 40(%esp), %edx              /* EIP */
	movl %eax, 40(%esp)
	movl %edx, 44(%esp)
	popal
	addl $8, %esp
	popfl
	ret $4

	.section .note.GNU-stack, "", @progbits
