using Iced.Intel;
using Lguest.Hypervisor;
using Lguest.Machine;
using Lguest.Memory;
using Lguest.Platform;
using static Iced.Intel.AssemblerRegisters;

namespace Lguest.Tests.Support;

/// <summary>
/// A <see cref="GuestDriverScript"/> as a real 32-bit guest program on KVM: the same <c>in</c>/<c>out</c> through
/// DX and <c>mov</c> through EDX the lguest scripts trap on, run by the vCPU (flat protected mode, paging off,
/// loaded at 1 MiB). Each load's EAX goes out to <see cref="Recorder"/>'s port; the program ends by powering
/// off through the ACPI PM1a control register.
/// </summary>
internal static class KvmProgramGuest
{
    public static readonly GuestAddress Entry = new(0x100000);

    /// <summary>Assembles the program for <see cref="Entry"/>.</summary>
    public static byte[] Assemble(GuestDriverScript script)
    {
        var a = new Assembler(32);
        foreach (GuestDriverScript.Step step in script.Steps)
        {
            switch (step)
            {
                case GuestDriverScript.PortWrite w:
                    a.mov(edx, (uint)w.Port);
                    a.mov(eax, w.Value);
                    LguestScriptGuest.Out(a, w.Width);
                    break;
                case GuestDriverScript.PortRead r:
                    a.xor(eax, eax);
                    a.mov(edx, (uint)r.Port);
                    LguestScriptGuest.In(a, r.Width);
                    Record(a);
                    break;
                case GuestDriverScript.MmioWrite w:
                    a.mov(edx, w.Address);
                    a.mov(eax, w.Value);
                    LguestScriptGuest.Store(a, w.Width);
                    break;
                case GuestDriverScript.MmioRead r:
                    a.xor(eax, eax);
                    a.mov(edx, r.Address);
                    LguestScriptGuest.LoadTo(a, r.Width);
                    Record(a);
                    break;
                case GuestDriverScript.MmioPoll p:
                    Label again = a.CreateLabel();
                    a.mov(edx, p.Address);
                    a.Label(ref again);
                    a.xor(eax, eax);
                    LguestScriptGuest.LoadTo(a, p.Width);
                    a.test(eax, p.Mask);
                    a.jz(again);
                    Record(a);
                    break;
                case GuestDriverScript.MemoryWrite m:
                    for (int i = 0; i < m.Bytes.Length; i++)
                        a.mov(__byte_ptr[(long)(m.Address + (uint)i)], m.Bytes[i]);
                    break;
                default:
                    throw new ArgumentException($"unknown step {step}", nameof(script));
            }
        }
        // ACPI S5: SLP_TYP 0 with SLP_EN in PM1a_CNT, then wait to be stopped.
        a.mov(edx, (uint)(AcpiPmRegisters.EventBlockPort + 4));
        a.mov(eax, 0x2000u);
        a.@out(dx, ax);
        Label halt = a.CreateLabel();
        a.Label(ref halt);
        a.jmp(halt);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), Entry.Value);
        return stream.ToArray();
    }

    private static void Record(Assembler a)
    {
        a.mov(edx, (uint)Recorder.Port);
        a.@out(dx, eax);
    }

    /// <summary>The port the program's loads come out of, as a platform device of each boot.</summary>
    internal sealed class Recorder : IPlatformDeviceFactory, IIoDevice
    {
        public const ushort Port = 0x520;

        private readonly List<uint> _values = [];

        public IReadOnlyList<uint> Values
        {
            get
            {
                lock (_values)
                    return _values.ToArray();
            }
        }

        public void Create(PlatformContext context) => context.PortBus.Register(Port, 4, this);

        public void Read(ulong offset, Span<byte> data) => data.Fill(0xff);

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            if (offset == 0 && data.Length == 4)
            {
                lock (_values)
                    _values.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(data));
            }
        }
    }
}
