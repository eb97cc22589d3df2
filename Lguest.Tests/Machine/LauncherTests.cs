using Lguest.Hypervisor;
using Lguest.Kvm;
using Lguest.Machine;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.Machine;

/// <summary>The launcher's run loop and power handling with tiny 64-bit guests on this host's KVM.</summary>
[Category("Kvm")]
public class LauncherTests
{
    private static readonly GuestAddress Entry = new(0x100000);

    /// <summary>Loads 64-bit code at 1 MiB; the n-th boot gets the n-th program (the last repeats).</summary>
    private sealed class CodeImage(params byte[][] programs) : IBootImage
    {
        public int Boots { get; private set; }

        public GuestAddress Rsdp { get; private set; }

        public BootState Load(GuestMemory memory, BootTarget target)
        {
            Rsdp = target.AcpiRsdp ?? GuestAddress.Zero;
            memory.Write(Entry, programs[Math.Min(Boots, programs.Length - 1)]);
            Boots++;
            return new BootState(BootCpuMode.Linux64, Entry, GuestAddress.Zero);
        }
    }

    // mov dx, port; mov al/ax, value; out dx, al/ax
    private static byte[] OutByte(ushort port, byte value) => [0x66, 0xBA, (byte)port, (byte)(port >> 8), 0xB0, value, 0xEE];

    private static byte[] OutWord(ushort port, ushort value) =>
        [0x66, 0xBA, (byte)port, (byte)(port >> 8), 0x66, 0xB8, (byte)value, (byte)(value >> 8), 0x66, 0xEF];

    private static readonly byte[] PowerOff = OutWord(0x604, 0x2000);
    private static readonly byte[] Reboot = OutByte(0xCF9, 0x06);
    private static readonly byte[] Spin = [0xEB, 0xFE]; // jmp $

    private static byte[] Program(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    private static (GuestExit Exit, string Console) Launch(CodeImage image, bool noReboot = false, int cpus = 1, CancellationToken cancellation = default)
    {
        using KvmHypervisor kvm = KvmHost.OpenOrIgnore();
        var output = new MemoryStream();
        using var launcher = new Launcher(kvm, image, new LauncherOptions
        {
            MemoryBytes = 16 << 20,
            CpuCount = cpus,
            NoReboot = noReboot,
            ConsoleOutput = output,
        });
        GuestExit exit = launcher.Run(cancellation);
        return (exit, System.Text.Encoding.Latin1.GetString(output.ToArray()));
    }

    [Test]
    public void A_guest_that_writes_the_UART_and_powers_off_through_ACPI_ends_cleanly_with_its_output()
    {
        var image = new CodeImage(Program(OutByte(0x3F8, (byte)'o'), OutByte(0x3F8, (byte)'k'), PowerOff, Spin));
        (GuestExit exit, string console) = Launch(image);
        Assert.That((exit.Kind, console), Is.EqualTo((GuestExitKind.PowerOff, "ok")));
        Assert.That(image.Rsdp.Value, Is.EqualTo(0xE0000UL));
    }

    [Test]
    public void A_reset_through_0xCF9_boots_the_guest_again()
    {
        var image = new CodeImage(Program(OutByte(0x3F8, (byte)'1'), Reboot, Spin), Program(OutByte(0x3F8, (byte)'2'), PowerOff, Spin));
        (GuestExit exit, string console) = Launch(image);
        Assert.That((exit.Kind, console, image.Boots), Is.EqualTo((GuestExitKind.PowerOff, "12", 2)));
    }

    [Test]
    public void A_reset_with_no_reboot_ends_the_run()
    {
        var image = new CodeImage(Program(Reboot, Spin));
        (GuestExit exit, _) = Launch(image, noReboot: true);
        Assert.That((exit.Kind, image.Boots), Is.EqualTo((GuestExitKind.Reset, 1)));
    }

    [Test]
    public void The_keyboard_controller_reset_line_resets()
    {
        var image = new CodeImage(Program(OutByte(0x64, 0xFE), Spin));
        (GuestExit exit, _) = Launch(image, noReboot: true);
        Assert.That(exit.Kind, Is.EqualTo(GuestExitKind.Reset));
    }

    [Test]
    public void A_triple_fault_ends_the_run_with_the_reason()
    {
        var image = new CodeImage([0x0F, 0x0B]); // ud2 with no IDT
        (GuestExit exit, _) = Launch(image);
        Assert.That(exit.Kind, Is.EqualTo(GuestExitKind.TripleFault));
        Assert.That(exit.Message, Does.Contain("triple-faulted"));
        Assert.That(exit.IsClean, Is.False);
    }

    [Test]
    public void Cancelling_stops_a_spinning_guest_on_every_vCPU()
    {
        var image = new CodeImage(Spin);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        (GuestExit exit, _) = Launch(image, cpus: 2, cancellation: cancel.Token);
        Assert.That(exit.Kind, Is.EqualTo(GuestExitKind.Stopped));
    }

    [Test]
    public void Reads_from_an_unclaimed_port_return_all_ones()
    {
        // in al, 0x99 (nothing there); out 0x3f8, al; power off
        var image = new CodeImage(Program([0xE4, 0x99], [0x66, 0xBA, 0xF8, 0x03, 0xEE], PowerOff, Spin));
        (GuestExit exit, string console) = Launch(image);
        Assert.That((exit.Kind, console), Is.EqualTo((GuestExitKind.PowerOff, "\u00ff")));
    }

    private static byte[] Say(string text) => text.SelectMany(c => OutByte(0x3F8, (byte)c)).ToArray();

    [Test]
    public async Task RunUntilAsync_stops_the_guest_at_the_first_matching_line_of_the_captured_UART()
    {
        using KvmHypervisor kvm = KvmHost.OpenOrIgnore();
        var image = new CodeImage(Program(Say("booting\r\nGUEST-READY 42\r\n"), Spin));
        using var console = new Lguest.Terminal.ConsoleCapture();
        var lines = new List<string>();
        console.LineReceived += (_, e) => lines.Add(e.Line);
        using var launcher = new Launcher(kvm, image, new LauncherOptions { MemoryBytes = 16 << 20, ConsoleOutput = console.Output });
        GuestExit exit = await launcher.RunUntilAsync(console, l => l.StartsWith("GUEST-READY", StringComparison.Ordinal), TimeSpan.FromMinutes(2));
        Assert.That(exit, Is.EqualTo(new GuestExit(GuestExitKind.Stopped, "the console showed \"GUEST-READY 42\"")));
        Assert.That(lines, Is.EqualTo(new[] { "booting", "GUEST-READY 42" }));
        Assert.That(launcher.State, Is.EqualTo(MachineState.Stopped));
    }

    [Test]
    public async Task RunUntilAsync_stops_a_silent_guest_on_its_timeout()
    {
        using KvmHypervisor kvm = KvmHost.OpenOrIgnore();
        using var console = new Lguest.Terminal.ConsoleCapture();
        using var launcher = new Launcher(kvm, new CodeImage(Spin), new LauncherOptions { MemoryBytes = 16 << 20, ConsoleOutput = console.Output });
        GuestExit exit = await launcher.RunUntilAsync(console, _ => true, TimeSpan.FromMilliseconds(300));
        Assert.That((exit.Kind, exit.Message), Is.EqualTo((GuestExitKind.Stopped, "no matching console line within 00:00:00.3000000")));
    }

    [Test]
    public async Task RunUntilAsync_returns_the_guest_s_own_end_when_it_comes_first_with_all_its_output()
    {
        using KvmHypervisor kvm = KvmHost.OpenOrIgnore();
        string text = string.Concat(Enumerable.Range(0, 40).Select(i => $"line {i}\n"));
        using var console = new Lguest.Terminal.ConsoleCapture();
        var lines = new List<string>();
        console.LineReceived += (_, e) => lines.Add(e.Line);
        using var launcher = new Launcher(kvm, new CodeImage(Program(Say(text), PowerOff, Spin)), new LauncherOptions { MemoryBytes = 16 << 20, ConsoleOutput = console.Output });
        GuestExit exit = await launcher.RunUntilAsync(console, l => l == "never", TimeSpan.FromMinutes(2));
        Assert.That(exit.Kind, Is.EqualTo(GuestExitKind.PowerOff));
        Assert.That(lines, Is.EqualTo(Enumerable.Range(0, 40).Select(i => $"line {i}")), "every byte reached the capture before the run returned");
    }

    /// <summary>Counts the guest's writes to one port.</summary>
    private sealed class PortCounter(ushort port) : IPlatformDeviceFactory, Lguest.Hypervisor.IIoDevice
    {
        public long Writes;

        public void Create(PlatformContext context) => context.PortBus.Register(port, 1, this);

        public void Read(ulong offset, Span<byte> data) => data.Clear();

        public void Write(ulong offset, ReadOnlySpan<byte> data) => Interlocked.Increment(ref Writes);
    }

    [Test]
    public async Task A_paused_guest_makes_no_exit_and_runs_on_after_resume_on_every_vCPU()
    {
        using KvmHypervisor kvm = KvmHost.OpenOrIgnore();
        var counter = new PortCounter(0x510);
        // mov dx, 0x510; l: out dx, al; jmp l
        var image = new CodeImage([0x66, 0xBA, 0x10, 0x05, 0xEE, 0xEB, 0xFD]);
        using var launcher = new Launcher(kvm, image, new LauncherOptions { MemoryBytes = 16 << 20, CpuCount = 2 }, [counter]);
        Task<GuestExit> run = launcher.RunAsync();
        Assert.That(SpinWait.SpinUntil(() => Interlocked.Read(ref counter.Writes) > 10, TimeSpan.FromMinutes(1)), Is.True, "the guest runs");

        await launcher.PauseAsync();
        long paused = Interlocked.Read(ref counter.Writes);
        await Task.Delay(300);
        Assert.That((launcher.State, Interlocked.Read(ref counter.Writes)), Is.EqualTo((MachineState.Paused, paused)), "no exit while paused");

        await launcher.ResumeAsync();
        Assert.That(SpinWait.SpinUntil(() => Interlocked.Read(ref counter.Writes) > paused + 10, TimeSpan.FromMinutes(1)), Is.True, "the guest runs on");
        launcher.Stop();
        Assert.That((await run).Kind, Is.EqualTo(GuestExitKind.Stopped));
    }
}
