using Lguest.DevLguest;
using Lguest.Fuzz.Fakes;
using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Fuzz.Targets;

/// <summary>
/// The /dev/lguest backend's instruction emulation: the input is the guest's registers and the pending traps
/// the Host hands over (trap number, the seven instruction bytes, the faulting address), run through the real
/// vCPU against a simulated Host. Exits carry 1, 2 or 4 bytes, MMIO stays inside the device window, port
/// output carries EAX, and completing an instruction changes EIP and at most the one register a load names.
/// </summary>
/// <remarks>
/// Layout: byte 0 = bit 0 the guest runs in user mode (CS RPL 3) instead of the kernel's ring 1; then EAX and
/// EDX (32-bit each); then <c>struct lguest_pending</c> records of 12 bytes until the input ends.
/// </remarks>
public sealed class LguestEmulationTarget : FuzzTarget, IDisposable
{
    private const ulong RamSize = 16 << 20;
    private const int RegisterCount = UserRegs.Size / 4;

    private readonly GuestMemory _memory = GuestMemory.AllocateBelow2GiB(LguestHypervisor.CreateLayout(RamSize));
    private readonly IoBus _ports = new("pio");
    private readonly IoBus _mmio = new("mmio");
    private readonly uint[] _atExit = new uint[RegisterCount];

    /// <inheritdoc />
    public override string Name => "lguest-emulation";

    /// <inheritdoc />
    public override int MaxInputLength => 9 + 12 * 64;

    /// <inheritdoc />
    public void Dispose() => _memory.Dispose();

    /// <inheritdoc />
    protected override void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        byte mode = reader.Byte();
        var registers = new uint[RegisterCount];
        for (int i = 0; i < registers.Length; i++)
            registers[i] = 0x0101_0101u * (uint)(i + 1);
        registers[UserRegs.Eax / 4] = reader.UInt32();
        registers[UserRegs.Edx / 4] = reader.UInt32();
        registers[UserRegs.Xcs / 4] = (mode & 1) != 0 ? 0x73u : 0x61u;
        registers[UserRegs.Eip / 4] = 0x0010_0000;
        var host = new FuzzLguestHost(registers, reader.Rest.ToArray());

        using var machine = new LguestVirtualMachine(host, _memory, _ports, _mmio);
        IVcpu vcpu = machine.CreateVcpu(0, new BootState(BootCpuMode.Linux32, new GuestAddress(0x10_0000), GuestAddress.Zero));
        ulong windowStart = (ulong)machine.PfnLimit * GuestMemoryLayout.PageSize;
        ulong windowEnd = (ulong)machine.DeviceLimit * GuestMemoryLayout.PageSize;
        bool lastWasLoad = false;
        bool hasLast = false;

        for (int steps = 0; steps < 1000; steps++)
        {
            VcpuExit exit = vcpu.Run();
            if (hasLast)
                CheckCompletion(host.Registers, lastWasLoad);
            switch (exit.Reason)
            {
                case VcpuExitReason.Failed or VcpuExitReason.Reset:
                    return;
                case VcpuExitReason.IoOut or VcpuExitReason.IoIn:
                {
                    CheckWidth(exit.Data.Length);
                    InvariantViolationException.ThrowUnless((host.Registers[UserRegs.Xcs / 4] & 3) == 1, "port I/O emulated for guest user space");
                    if (exit.Reason == VcpuExitReason.IoOut)
                        CheckCarries(exit.Data, host.Registers[UserRegs.Eax / 4], "out");
                    else
                        Fill(exit.Data);
                    break;
                }
                case VcpuExitReason.MmioWrite or VcpuExitReason.MmioRead:
                {
                    CheckWidth(exit.Data.Length);
                    InvariantViolationException.ThrowUnless(exit.Address >= windowStart && exit.Address + (ulong)exit.Data.Length <= windowEnd,
                        $"MMIO exit at 0x{exit.Address:x} (+{exit.Data.Length}) outside the device window [0x{windowStart:x}, 0x{windowEnd:x})");
                    if (exit.Reason == VcpuExitReason.MmioRead)
                        Fill(exit.Data);
                    break;
                }
                default:
                    throw new InvariantViolationException($"unexpected exit {exit.Reason} ({exit.Detail})");
            }
            host.Registers.CopyTo(_atExit, 0);
            lastWasLoad = exit.Reason is VcpuExitReason.IoIn or VcpuExitReason.MmioRead;
            hasLast = true;
        }
    }

    private static void CheckWidth(int width) =>
        InvariantViolationException.ThrowUnless(width is 1 or 2 or 4, $"an exit of {width} bytes");

    private static void CheckCarries(ReadOnlySpan<byte> data, uint eax, string what)
    {
        for (int i = 0; i < data.Length; i++)
            InvariantViolationException.ThrowUnless(data[i] == (byte)(eax >> (8 * i)), $"{what} of {data.Length} byte(s) does not carry EAX 0x{eax:x}");
    }

    private static void Fill(Span<byte> data)
    {
        for (int i = 0; i < data.Length; i++)
            data[i] = (byte)(0xa5 ^ i);
    }

    // Between one exit and the next the vCPU finished the first instruction (and skipped any cli): only EIP,
    // and for a load its destination register, may differ.
    private void CheckCompletion(uint[] registers, bool load)
    {
        int changed = 0;
        for (int i = 0; i < registers.Length; i++)
        {
            if (registers[i] != _atExit[i] && i != UserRegs.Eip / 4)
                changed++;
        }
        InvariantViolationException.ThrowUnless(changed <= (load ? 1 : 0), $"{changed} register(s) besides EIP changed completing a {(load ? "load" : "store")}");
    }

    /// <inheritdoc />
    public override IEnumerable<KeyValuePair<string, byte[]>> Seeds()
    {
        uint window = (uint)RamSize;
        byte[] Pending(byte trap, byte[] instruction, uint address)
        {
            var bytes = new byte[LguestPending.Size];
            LguestPending.Write(bytes, trap, instruction, address);
            return bytes;
        }
        byte[] Input(int mode, params byte[][] pendings)
        {
            var w = new FuzzInputWriter().Byte(mode).UInt32(0x1234_5678).UInt32(0x3f8);
            foreach (byte[] p in pendings)
                w.Bytes(p);
            return w.ToArray();
        }

        yield return new("port-io", Input(0,
            Pending(13, [0xee], 0),                     // out dx, al
            Pending(13, [0x66, 0xed], 0),               // in ax, dx
            Pending(13, [0xe6, 0x80], 0),               // out 0x80, al
            Pending(13, [0xfa], 0),                     // cli
            Pending(13, [0xe5, 0x71], 0)));             // in eax, 0x71
        yield return new("mmio", Input(0,
            Pending(14, [0x89, 0x03], window + 0x14),   // mov [ebx], eax
            Pending(14, [0x8a, 0x63, 0x01], window + 1), // mov ah, [ebx+1]
            Pending(14, [0x0f, 0xb7, 0x02], window + 2), // movzx eax, word [edx]
            Pending(14, [0xc7, 0x05, 0x00, 0x30, 0x00, 0x01, 0x01], window + 0x3000), // mov dword [abs], imm32 (cut off)
            Pending(14, [0xa1, 0x00, 0x10, 0x00, 0x01], window + 0x1000), // mov eax, [moffs32]
            Pending(14, [0x66, 0x89, 0x08], window + 0x3ffe)));          // mov [eax], cx
        yield return new("user-mode-and-outside", Input(1,
            Pending(13, [0xec], 0),
            Pending(14, [0x89, 0x03], 0x1000),
            Pending(6, [0x0f, 0x0b], 0)));
    }
}
