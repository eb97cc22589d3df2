using Lguest.DevLguest;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.DevLguest;

/// <summary>
/// A guest on the simulated Host: 16 MiB of RAM below 2 GiB of the test process (so its address fits the
/// i386 ABI), lguest's flat layout with 256 device pages, the two buses, and vCPU 0 entering at 0x100000.
/// <see cref="Step"/> runs the vCPU once and serves its exit from the buses as the launcher's run loop does.
/// </summary>
internal sealed class LguestTestBed : IDisposable
{
    public const ulong RamSize = 16 << 20;
    public const uint Entry = 0x100000;

    public LguestTestBed(LguestHostSimulator? host = null, GuestMemoryLayout? layout = null)
    {
        Host = host ?? new LguestHostSimulator();
        Memory = GuestMemory.AllocateBelow2GiB(layout ?? LguestHypervisor.CreateLayout(RamSize));
        Hypervisor = new LguestHypervisor(() => Host);
        try
        {
            Machine = Hypervisor.CreateVirtualMachine(Memory, PortBus, MmioBus);
        }
        catch
        {
            // A test of a refused machine gets no bed to dispose: the 16 MiB mapping would outlive the test run.
            Memory.Dispose();
            throw;
        }
    }

    public LguestHostSimulator Host { get; }

    public GuestMemory Memory { get; }

    public IoBus PortBus { get; } = new("pio");

    public IoBus MmioBus { get; } = new("mmio");

    public LguestHypervisor Hypervisor { get; }

    public IVirtualMachine Machine { get; }

    public IVcpu? Vcpu { get; private set; }

    /// <summary>The first byte of the device window: the top of RAM.</summary>
    public static uint WindowStart => (uint)RamSize;

    public IVcpu Boot()
    {
        Vcpu = Machine.CreateVcpu(0, new BootState(BootCpuMode.Linux32, new GuestAddress(Entry), GuestAddress.Zero));
        return Vcpu;
    }

    /// <summary>Runs once and dispatches the exit to the buses (reads filled before the next run completes them).</summary>
    public Exit Step()
    {
        IVcpu vcpu = Vcpu ?? Boot();
        VcpuExit exit = vcpu.Run();
        switch (exit.Reason)
        {
            case VcpuExitReason.IoIn:
                PortBus.Read(exit.Address, exit.Data);
                break;
            case VcpuExitReason.IoOut:
                PortBus.Write(exit.Address, exit.Data);
                break;
            case VcpuExitReason.MmioRead:
                MmioBus.Read(exit.Address, exit.Data);
                break;
            case VcpuExitReason.MmioWrite:
                MmioBus.Write(exit.Address, exit.Data);
                break;
        }
        return new Exit(exit.Reason, exit.Address, exit.Data.ToArray(), exit.Detail);
    }

    /// <summary>Steps until the script's final death or reboot, returning every exit on the way.</summary>
    public List<Exit> RunToEnd(int limit = 10_000)
    {
        var exits = new List<Exit>();
        for (int i = 0; i < limit; i++)
        {
            Exit exit = Step();
            exits.Add(exit);
            if (exit.Reason is VcpuExitReason.Failed or VcpuExitReason.Reset)
                return exits;
        }
        throw new InvalidOperationException($"no end after {limit} exits");
    }

    public void Dispose()
    {
        Machine.Dispose();
        Memory.Dispose();
    }

    internal sealed record Exit(VcpuExitReason Reason, ulong Address, byte[] Data, string? Detail);
}
