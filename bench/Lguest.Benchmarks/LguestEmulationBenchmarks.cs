using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Lguest.DevLguest;
using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Benchmarks;

/// <summary>
/// Launcher-side cost of one instruction the /dev/lguest Host hands over: decode insn[] with Iced, the
/// GETREG/SETREG requests, the exit, and its completion on the next run, against an in-process Host that
/// answers at once (so the figure excludes the syscalls a real Host costs: a 4-byte MMIO store is one read,
/// two GETREG round trips and one SETREG, an 8-bit port read one more GETREG and SETREG). One operation =
/// one emulated instruction.
/// </summary>
[MemoryDiagnoser]
public class LguestEmulationBenchmarks
{
    private GuestMemory _memory = null!;
    private IVirtualMachine _machine = null!;
    private IVcpu _vcpu = null!;
    private RepeatingHost _host = null!;

    [Params("mov [edx], eax", "mov al, [edx]", "in al, dx", "out dx, eax")]
    public string Instruction { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        (byte trap, byte[] bytes) = Instruction switch
        {
            "mov [edx], eax" => ((byte)14, new byte[] { 0x89, 0x02 }),
            "mov al, [edx]" => ((byte)14, new byte[] { 0x8a, 0x02 }),
            "in al, dx" => ((byte)13, new byte[] { 0xec }),
            _ => ((byte)13, new byte[] { 0xef }),
        };
        _memory = GuestMemory.AllocateBelow2GiB(GuestMemoryLayout.Flat(16 << 20));
        _host = new RepeatingHost(trap, bytes, (16 << 20) + 0x14);
        _machine = new LguestHypervisor(() => _host).CreateVirtualMachine(_memory, new IoBus("pio"), new IoBus("mmio"));
        _vcpu = _machine.CreateVcpu(0, new BootState(BootCpuMode.Linux32, new GuestAddress(0x100000), GuestAddress.Zero));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _machine.Dispose();
        _memory.Dispose();
    }

    [Benchmark]
    public int EmulateOne()
    {
        VcpuExit exit = _vcpu.Run();
        return exit.Data.Length;
    }

    /// <summary>A Host whose guest faults on the same instruction forever, with registers that stay put.</summary>
    private sealed class RepeatingHost(byte trap, byte[] instruction, uint address) : ILguestDevice
    {
        private readonly uint[] _registers = new uint[17];
        private uint? _toRead;

        public int Write(ReadOnlySpan<byte> request, long offset)
        {
            var req = (LguestRequest)BinaryPrimitives.ReadUInt32LittleEndian(request);
            uint which = BinaryPrimitives.ReadUInt32LittleEndian(request[4..]);
            switch (req)
            {
                case LguestRequest.Initialize:
                    _registers[UserRegs.Xcs / 4] = 0x61;
                    _registers[UserRegs.Edx / 4] = address;
                    return 16;
                case LguestRequest.GetReg:
                    _toRead = which;
                    return 8;
                case LguestRequest.SetReg:
                    _registers[which / 4] = BinaryPrimitives.ReadUInt32LittleEndian(request[8..]);
                    return 12;
                default:
                    return 0;
            }
        }

        public int Read(Span<byte> buffer, long offset)
        {
            if (_toRead is uint register)
            {
                _toRead = null;
                BinaryPrimitives.WriteUInt32LittleEndian(buffer, _registers[register / 4]);
                return 4;
            }
            LguestPending.Write(buffer, trap, instruction, address);
            return LguestPending.Size;
        }

        public void Interrupt(int threadId)
        {
        }

        public void Dispose()
        {
        }
    }
}
