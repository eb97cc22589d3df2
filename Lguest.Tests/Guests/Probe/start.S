/* PVH entry. The loader enters at pvh_start in 32-bit protected mode, paging
 * off, CS/DS/ES/SS flat 4 GiB, interrupts off, EBX = struct hvm_start_info.
 * The GDTR it leaves may point anywhere, so we load our own GDT before the
 * first segment load (and before iret, which reloads CS). */

#define XEN_ELFNOTE_PHYS32_ENTRY 18 /* xen/include/public/elfnote.h */

#define SELECTOR_CODE 0x08
#define SELECTOR_DATA 0x10

	.section .note.Xen, "a"
	.p2align 2
	.long 4                          /* namesz: "Xen\0" */
	.long 4                          /* descsz: a 32-bit entry address */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long pvh_start

	.section .text.start, "ax"
	.code32
	.globl pvh_start
pvh_start:
	/* First of all, a CR on COM1 (no line of output changes): the first
	 * byte a launcher's console sees marks its first guest instruction, so
	 * bench/run.sh times the launcher's start-up apart from the probe's own
	 * (on kvm_pvm the rep stosb below alone takes ~20 ms). */
	movw $0x3f8, %dx
	movb $0x0d, %al
	outb %al, %dx
	cli
	cld
	lgdt gdt_descriptor
	ljmp $SELECTOR_CODE, $1f
1:	movl $SELECTOR_DATA, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl $stack_top, %esp

	/* The ELF loader zero-fills memsz beyond filesz, but do not rely on it. */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb

	pushl %ebx                       /* struct hvm_start_info * */
	call probe_main
2:	cli
	hlt
	jmp 2b

	.section .rodata
	.p2align 3
gdt:
	.quad 0                          /* null */
	.quad 0x00cf9a000000ffff         /* 0x08: code, base 0, limit 4 GiB, 32-bit */
	.quad 0x00cf92000000ffff         /* 0x10: data, base 0, limit 4 GiB */
gdt_end:
gdt_descriptor:
	.word gdt_end - gdt - 1
	.long gdt

	.section .stack, "aw", @nobits
	.p2align 4
	.space 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
