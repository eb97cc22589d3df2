# The SIGSYS handler of --seccomp=on (Lguest.Core/Seccomp/SigsysHandler.cs holds these bytes; a unit test
# assembles this file with gcc and compares). A call outside the policy returns SECCOMP_RET_TRAP: the kernel
# sends SIGSYS to the thread that made it, which runs this, on its own stack, whatever it was doing (in the
# GC, holding a lock, in a signal handler): it writes one line and ends the process, calling nothing of the
# runtime's or libc's, only system calls the policy allows (write, prctl, rt_sigaction, getpid, gettid,
# tgkill of its own process, exit_group).
#
# The line: "lguest: seccomp: NAME(ARG0, ARG1, ARG2) is outside the policy: killed (SIGSYS)", NAME and the
# suffix from a table the launcher builds before the filter, the first three arguments in hex from the
# ucontext's registers. Then no core file (PR_SET_DUMPABLE 0: guest memory is mapped), SIGSYS back to its
# default action and sent to this thread: installed with SA_NODEFER it is not blocked, so the process ends
# killed by SIGSYS on the way back from tgkill. The first process of a PID namespace (lguest --jail) ignores
# that; it exits with 128 + SIGSYS instead.
#
# In: rdi = signal, rsi = siginfo_t* (si_syscall at 24), rdx = ucontext_t* (gregs at 40: RDI 8, RSI 9, RDX 12).
# The 64-bit immediate of the movabs at offset 12 is patched with the table's address:
#   +0 entry count N, +8 suffix address, +16 suffix length, +24 N entries {line-start address, length};
#   a call number >= N takes the last entry.
.intel_syntax noprefix
.globl handler
handler:
    sub rsp, 264
    mov r8, rdx
    movabs r9, 0x1122334455667788
    mov eax, dword ptr [rsi + 24]
    mov rcx, qword ptr [r9]
    cmp rax, rcx
    jb 1f
    lea rax, [rcx - 1]
1:  shl rax, 4
    mov rsi, qword ptr [r9 + rax + 24]
    mov rcx, qword ptr [r9 + rax + 32]
    mov rdi, rsp
    rep movsb
    mov byte ptr [rdi], 0x28
    inc rdi
    mov r10, qword ptr [r8 + 104]
    call hex
    mov word ptr [rdi], 0x202c
    add rdi, 2
    mov r10, qword ptr [r8 + 112]
    call hex
    mov word ptr [rdi], 0x202c
    add rdi, 2
    mov r10, qword ptr [r8 + 136]
    call hex
    mov byte ptr [rdi], 0x29
    inc rdi
    mov rsi, qword ptr [r9 + 8]
    mov rcx, qword ptr [r9 + 16]
    rep movsb
    mov rdx, rdi
    mov rsi, rsp
    sub rdx, rsi
    mov edi, 2
    mov eax, 1
    syscall
    mov edi, 4
    xor esi, esi
    xor edx, edx
    xor r10d, r10d
    xor r8d, r8d
    mov eax, 157
    syscall
    xor eax, eax
    mov qword ptr [rsp], rax
    mov qword ptr [rsp + 8], rax
    mov qword ptr [rsp + 16], rax
    mov qword ptr [rsp + 24], rax
    mov edi, 31
    mov rsi, rsp
    xor edx, edx
    mov r10d, 8
    mov eax, 13
    syscall
    mov eax, 39
    syscall
    mov r12d, eax
    mov eax, 186
    syscall
    mov esi, eax
    mov edi, r12d
    mov edx, 31
    mov eax, 234
    syscall
    mov edi, 159
    mov eax, 231
    syscall
    hlt
hex:
    mov word ptr [rdi], 0x7830
    add rdi, 2
    mov ecx, 60
    xor edx, edx
2:  mov rax, r10
    shr rax, cl
    and eax, 15
    test edx, edx
    jnz 3f
    test eax, eax
    jnz 3f
    test ecx, ecx
    jz 3f
    jmp 4f
3:  mov edx, 1
    cmp eax, 10
    jb 5f
    add eax, 39
5:  add eax, 48
    mov byte ptr [rdi], al
    inc rdi
4:  sub ecx, 4
    jns 2b
    ret
