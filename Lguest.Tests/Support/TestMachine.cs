using Lguest.DevLguest;
using Lguest.Hypervisor;
using Lguest.Kvm;
using Lguest.Machine;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Tests.Support;

/// <summary>
/// A whole machine built by the <see cref="Launcher"/> with its backend's <see cref="MachineProfile"/>, running a
/// <see cref="GuestDriverScript"/>: on /dev/lguest through the Host simulator, on this host's KVM as a real program.
/// The script's guest ends its run on its own (the lguest guest dies with <see cref="EndOfScript"/>, the KVM
/// program powers off) unless something ends it first.
/// </summary>
internal static class TestMachine
{
    public const ulong RamBytes = 16 << 20;

    /// <summary>The death reason the lguest script's guest ends with.</summary>
    public const string EndOfScript = "the script's guest reached its end";

    /// <summary>A guard against a run that never ends: it is stopped and the test fails on its exit kind.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(2);

    public enum Backend { Lguest, Kvm }

    public sealed record Result(GuestExit Exit, IReadOnlyList<uint> Loads, LguestHostSimulator? Host);

    public static MachineProfile ProfileOf(Backend backend) => backend == Backend.Lguest ? MachineProfile.Lguest : MachineProfile.Pc;

    /// <summary>Where the bus puts the first device's BAR 0 (16 KiB, naturally aligned): the start of the MMIO window.</summary>
    public static uint FirstBar(Backend backend) => (uint)ProfileOf(backend).CreateLayout(RamBytes).MmioWindow.Start.Value;

    /// <summary>Where the first device's INTx# is routed: the lguest machine's interrupt 1, the PC's IRQ 5.</summary>
    public static int FirstInterrupt(Backend backend) => ProfileOf(backend).PciInterruptLines[0];

    /// <summary>A virtio device from Lguest.Devices, as the container would add it, behind the launcher's PCI transport.</summary>
    public static IPlatformDeviceFactory Device(Action<IServiceCollection> add)
    {
        var services = new ServiceCollection();
        add(services);
        IVirtioDeviceFactory factory = services.BuildServiceProvider().GetRequiredService<IVirtioDeviceFactory>();
        return new VirtioPciDeviceFactory(factory);
    }

    public static Result Run(Backend backend, GuestDriverScript script, IEnumerable<IPlatformDeviceFactory> devices, bool strict = false) =>
        backend == Backend.Lguest ? RunOnLguest(script, devices, strict) : RunOnKvm(script, devices, strict);

    public static Result RunOnLguest(GuestDriverScript script, IEnumerable<IPlatformDeviceFactory> devices, bool strict = false,
        Action<LguestHostSimulator>? end = null)
    {
        var host = new LguestHostSimulator();
        LguestScriptGuest.Play(script, host);
        (end ?? (h => h.Die(EndOfScript)))(host);
        using var hypervisor = new LguestHypervisor(() => host);
        GuestExit exit = Launch(hypervisor, new EntryImage(null), devices, strict, MachineProfile.Lguest);
        return new Result(exit, host.Loads, host);
    }

    public static Result RunOnKvm(GuestDriverScript script, IEnumerable<IPlatformDeviceFactory> devices, bool strict = false)
    {
        using KvmHypervisor kvm = KvmHost.OpenOrIgnore();
        var recorder = new KvmProgramGuest.Recorder();
        GuestExit exit = Launch(kvm, new EntryImage(KvmProgramGuest.Assemble(script)), [recorder, .. devices], strict, MachineProfile.Pc);
        return new Result(exit, recorder.Values, null);
    }

    private static GuestExit Launch(IHypervisor hypervisor, IBootImage image, IEnumerable<IPlatformDeviceFactory> devices, bool strict, MachineProfile profile)
    {
        var options = new LauncherOptions { MemoryBytes = RamBytes, StrictDrivers = strict, NoReboot = true };
        using var launcher = new Launcher(hypervisor, image, options, devices, profile: profile);
        using var guard = new CancellationTokenSource(HangGuard);
        return launcher.Run(guard.Token);
    }

    /// <summary>Puts <paramref name="code"/> (if any) at 1 MiB and enters it in flat 32-bit mode, as both backends can.</summary>
    internal sealed class EntryImage(byte[]? code) : IBootImage
    {
        public int Boots { get; private set; }

        public BootTarget? LastTarget { get; private set; }

        public BootState Load(GuestMemory memory, BootTarget target)
        {
            LastTarget = target;
            Boots++;
            if (code is not null)
                memory.Write(KvmProgramGuest.Entry, code);
            return new BootState(BootCpuMode.Linux32, KvmProgramGuest.Entry, GuestAddress.Zero);
        }
    }
}
