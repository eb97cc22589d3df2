using System.Diagnostics;
using System.Globalization;
using System.Text;
using Lguest.Boot;
using Lguest.Devices;
using Lguest.Kvm;
using Lguest.Machine;
using Lguest.Memory;
using Lguest.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Tests.Integration;

/// <summary>
/// The library embedded as a user would (a container per guest: <c>AddKvm</c>, an <see cref="IBootImage"/>,
/// the virtio block, entropy and console devices, <c>AddLguest</c>) runs 100 probe guests one after another
/// and 100 more four at a time in this process. Most guests drive every device once (a sector written and
/// read back, 64 random bytes, a console line each way); some fail to start or are stopped mid-run (see
/// <see cref="RunGuest"/>). Afterwards the process holds as many file descriptors and threads as before,
/// its managed heap is back where it was, and no guest RAM or kvm_run mapping is left: a guest's whole
/// footprint goes with its container, however the guest ended.
/// </summary>
[Category("Kvm")]
public partial class SoakTests
{
    private const int Guests = 100;
    private const int AtATime = 4;
    private const string Probes = "virtio-blk,virtio-rng,virtio-console";

    // Slack for what the runtime itself does meanwhile (a tiered-compilation worker coming or going, an
    // fd of the test host's own): a leak of one per guest would be 100 above.
    private const int FdSlack = 8; // at load 60 the runtime held 4 more (its socket engine's epoll and pipe, a timer)
    private const int ThreadSlack = 3;
    // The thread pool retires a worker idle for 20 s (its default thread timeout): past that, a thread above the slack stays.
    private static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(30);
    // The heap after a full collection grows by up to ~100 KiB over these 200 guests with the runtime's own
    // caches (reflection, the shared array pool's per-thread tables), less and less the longer it runs; a
    // leak of 5 KiB a guest would pass 1 MiB. Leaked containers are caught one by one by the weak references.
    private const long ManagedSlack = 1 << 20;

    private readonly List<WeakReference> _containers = [];
    private string _folder = null!;

    [SetUp]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("lguest-soak-").FullName;

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    [Test]
    public void A_hundred_guests_in_a_row_and_a_hundred_four_at_a_time_leave_no_descriptor_thread_heap_or_mapping_behind()
    {
        using (KvmHost.Require())
        {
        }
        string probe = GuestPrograms.Probe;
        // Warm up: the first guests (one of each kind) JIT the launcher and fill the runtime's lazy caches, which stay.
        foreach (int kind in new[] { 0, 3, 6, 9 })
            RunGuest(probe, kind);
        RunConcurrently(probe, AtATime, AtATime);
        ProcessFigures start = ProcessFigures.Measure();
        lock (_containers)
            _containers.Clear();

        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Guests; i++)
            RunGuest(probe, i);
        TimeSpan sequential = clock.Elapsed;
        ProcessFigures afterSequential = MeasureSettled(start);

        clock.Restart();
        RunConcurrently(probe, Guests, AtATime);
        TimeSpan concurrent = clock.Elapsed;
        ProcessFigures afterConcurrent = MeasureSettled(start);

        TestContext.Progress.WriteLine($"soak: {Guests} guests one after another in {sequential.TotalSeconds:F1} s, {Guests} {AtATime} at a time in {concurrent.TotalSeconds:F1} s (probe.only={Probes}; every tenth guest from 3 on a text file as kernel, from 6 a missing disk, from 9 stopped by its host 300 ms in)");
        TestContext.Progress.WriteLine($"  start:             {start}");
        TestContext.Progress.WriteLine($"  after sequential:  {afterSequential}");
        TestContext.Progress.WriteLine($"  after {AtATime} at a time: {afterConcurrent}");
        int alive;
        lock (_containers)
            alive = _containers.Count(w => w.IsAlive);
        TestContext.Progress.WriteLine($"  containers and their launcher, hypervisor and device factories still reachable: {alive} of {_containers.Count} objects");
        TestContext.Progress.WriteLine($"  descriptors opened meanwhile and still open: {string.Join(", ", afterConcurrent.FileTargets.Except(start.FileTargets).DefaultIfEmpty("none"))}");

        Assert.Multiple(() =>
        {
            foreach ((string when, ProcessFigures after) in new[] { ("sequential", afterSequential), ("4 at a time", afterConcurrent) })
            {
                Assert.That(after.FileDescriptors, Is.LessThanOrEqualTo(start.FileDescriptors + FdSlack), $"file descriptors after {when}");
                Assert.That(after.Threads, Is.LessThanOrEqualTo(start.Threads + ThreadSlack), $"threads after {when}");
                Assert.That(after.ManagedBytes, Is.LessThanOrEqualTo(start.ManagedBytes + ManagedSlack), $"managed bytes after {when}");
                // Compared with the start: a test before this one in the same process may hold guest memory of its own.
                Assert.That(after.GuestMappings.Except(start.GuestMappings), Is.Empty, $"guest RAM and kvm_run mappings after {when}");
            }
            Assert.That(alive, Is.Zero, "objects of the guests' containers no longer referenced by the test");
        });
    }

    [Test]
    public void The_mapping_count_sees_guest_ram_while_it_is_mapped_and_not_after()
    {
        List<string> before = ProcessFigures.ReadGuestMappings();
        List<string> during;
        using (GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(4 << 20)))
            during = ProcessFigures.ReadGuestMappings();
        Assert.That((during.Except(before).Count(), ProcessFigures.ReadGuestMappings().Except(before).Count()), Is.EqualTo((1, 0)));
    }

    /// <summary>
    /// The figures once the runtime's own threads have settled: on a loaded host (load average 50 on 2 CPUs)
    /// the thread pool injects a worker or two while the guests run and retires them only after 20 s idle, so
    /// a count above the slack is measured again, once a second, until it is within it or
    /// <see cref="SettleTime"/> has passed. A leaked thread or descriptor never goes: a leak stays a failure.
    /// </summary>
    private static ProcessFigures MeasureSettled(ProcessFigures start)
    {
        var clock = Stopwatch.StartNew();
        ProcessFigures figures = ProcessFigures.Measure();
        while ((figures.Threads > start.Threads + ThreadSlack || figures.FileDescriptors > start.FileDescriptors + FdSlack)
            && clock.Elapsed < SettleTime)
        {
            Thread.Sleep(TimeSpan.FromSeconds(1));
            figures = ProcessFigures.Measure();
        }
        return figures;
    }

    /// <summary>Runs <paramref name="count"/> guests on <paramref name="width"/> threads of its own, each taking the next guest.</summary>
    private void RunConcurrently(string probe, int count, int width)
    {
        int next = -1;
        var failures = new List<Exception>();
        var threads = Enumerable.Range(0, width).Select(_ => new Thread(() =>
        {
            try
            {
                for (int i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
                    RunGuest(probe, i);
            }
#pragma warning disable CA1031 // handed to the test thread, which fails with it
            catch (Exception e)
#pragma warning restore CA1031
            {
                lock (failures)
                    failures.Add(e);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (failures.Count > 0)
            throw new AggregateException(failures);
    }

    /// <summary>
    /// One guest in a container of its own, as an application embedding the library would run it. Seven in
    /// ten run the probes to power-off; the others take the paths a long-lived host meets too: a kernel that
    /// is no kernel (the launcher throws while building the machine), a disk image that is missing (the
    /// device's factory throws at the first boot, after guest RAM and the VM exist), and a guest stopped
    /// by its host mid-run (the probe's endless disk writer, cancelled while its device worker is busy).
    /// </summary>
    private void RunGuest(string probe, int index)
    {
        string image = Path.Combine(_folder, $"disk-{index}.img");
        var kind = (index % 10) switch { 3 => GuestKind.NoKernel, 6 => GuestKind.NoDisk, 9 => GuestKind.Stopped, _ => GuestKind.Probes };
        if (kind != GuestKind.NoDisk)
        {
            using FileStream disk = File.Create(image);
            disk.SetLength(kind == GuestKind.Stopped ? 8 << 20 : 64 * 1024); // sparse: the writer never fills 8 MiB before it is stopped
        }
        string kernel = probe;
        if (kind == GuestKind.NoKernel)
        {
            kernel = Path.Combine(_folder, $"kernel-{index}.txt");
            File.WriteAllText(kernel, "this is a text file, not a kernel\n");
        }
        var uart = new MemoryStream();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddKvm();
        string only = kind == GuestKind.Stopped ? "blk-durability" : Probes;
        services.AddSingleton<IBootImage>(_ => new KernelBootImage(kernel, null, $"probe.only={only} probe.console-wait=5000"));
        services.AddVirtioBlock(image);
        services.AddVirtioRng();
        services.AddVirtioConsole(o =>
        {
            o.Input = new MemoryStream("soak\n"u8.ToArray());
            o.Output = Stream.Null;
        });
        services.AddLguest(o =>
        {
            o.MemoryBytes = 32UL << 20;
            o.NoReboot = true;
            o.ConsoleOutput = uart;
        });
        GuestExit? exit = null;
        Exception? error = null;
        try
        {
            using ServiceProvider provider = services.BuildServiceProvider();
            Watch(provider);
            Watch(provider.GetRequiredService<HypervisorBackend>());
            foreach (object factory in provider.GetServices<Lguest.Virtio.IVirtioDeviceFactory>())
                Watch(factory);
            using var stop = new CancellationTokenSource();
            if (kind == GuestKind.Stopped)
                stop.CancelAfter(TimeSpan.FromMilliseconds(300)); // wherever the guest is by then: booting or writing
            Launcher launcher = provider.GetRequiredService<Launcher>();
            Watch(launcher);
            exit = launcher.Run(stop.Token);
        }
        catch (LguestException e)
        {
            error = e;
        }
        File.Delete(image);
        if (kind == GuestKind.NoKernel)
            File.Delete(kernel);

        string console = Encoding.ASCII.GetString(uart.ToArray());
        string context = $"guest {index} ({kind}): {exit?.Kind} {exit?.Message} {error}\n{console}";
        switch (kind)
        {
            case GuestKind.Probes:
                Assert.That(exit?.Kind, Is.EqualTo(GuestExitKind.PowerOff), context);
                Assert.That(console, Does.Contain("PROBE done 3/3"), context);
                break;
            case GuestKind.NoKernel:
                Assert.That(error, Is.TypeOf<KernelImageException>(), context);
                break;
            case GuestKind.NoDisk:
                Assert.That(error, Is.TypeOf<DiskImageException>(), context);
                break;
            case GuestKind.Stopped:
                Assert.That(exit?.Kind, Is.EqualTo(GuestExitKind.Stopped), context);
                break;
        }
    }

    /// <summary>Keeps a weak reference to <paramref name="target"/>: after the runs and a full collection it must be gone.</summary>
    private void Watch(object target)
    {
        lock (_containers)
            _containers.Add(new WeakReference(target));
    }

    private enum GuestKind
    {
        Probes,
        NoKernel,
        NoDisk,
        Stopped,
    }

    /// <summary>What this process holds, from /proc/self and the GC.</summary>
    private sealed partial record ProcessFigures(int FileDescriptors, int Threads, long ManagedBytes, long ResidentKiB, int Mappings,
        IReadOnlyList<string> GuestMappings, IReadOnlyList<string> FileTargets)
    {
        public static ProcessFigures Measure()
        {
            // Finalizers first: anything only they would release is counted as released.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            long managed = GC.GetTotalMemory(forceFullCollection: true);
            string[] maps = File.ReadAllLines("/proc/self/maps");
            string[] fds = Directory.GetFileSystemEntries("/proc/self/fd");
            return new ProcessFigures(
                fds.Length,
                OwnThreads(),
                managed,
                StatusField("VmRSS"),
                maps.Length,
                ReadGuestMappings(),
                fds.Select(fd => $"{Path.GetFileName(fd)}->{Target(fd)}").ToList());
        }

        // Threads other than the runtime's thread pool, which grows and shrinks with the machine's load (at load
        // 55 it kept one more worker after the run): a leaked device or vCPU thread has a name of its own.
        private static int OwnThreads() =>
            Directory.GetDirectories("/proc/self/task").Count(task =>
            {
                try
                {
                    return !File.ReadAllText(Path.Combine(task, "comm")).StartsWith(".NET TP", StringComparison.Ordinal);
                }
                catch (IOException)
                {
                    return false; // ended meanwhile
                }
            });

        // Guest RAM is GuestMemory's private anonymous mapping advised MADV_DONTFORK, which smaps flags
        // "dc" (no other anonymous mapping in this process asks for it); each vCPU maps its kvm_run from
        // the vCPU's anonymous inode.
        [System.Text.RegularExpressions.GeneratedRegex("^[0-9a-f]+-[0-9a-f]+ ")]
        private static partial System.Text.RegularExpressions.Regex MappingHeader();

        internal static List<string> ReadGuestMappings()
        {
            var found = new List<string>();
            string? mapping = null;
            foreach (string line in File.ReadLines("/proc/self/smaps"))
            {
                if (MappingHeader().IsMatch(line))
                {
                    mapping = line;
                    if (line.Contains("anon_inode:kvm", StringComparison.Ordinal))
                        found.Add(line);
                }
                else if (mapping is not null && line.StartsWith("VmFlags:", StringComparison.Ordinal) && line.Split(' ').Contains("dc")
                    && mapping.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 5)
                {
                    found.Add(mapping); // anonymous: no path after the inode (the runtime maps its PDBs "dc" too)
                }
            }
            return found;
        }

        // The descriptor the enumeration itself used is gone by now: no target.
        private static string Target(string fd) => new FileInfo(fd).LinkTarget ?? "?";

        private static int StatusField(string name)
        {
            string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(name + ":", StringComparison.Ordinal));
            return int.Parse(line[(name.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }

        public override string ToString() =>
            $"fds {FileDescriptors}, threads {Threads}, managed {ManagedBytes:N0} bytes, RSS {ResidentKiB:N0} KiB, mappings {Mappings} ({GuestMappings.Count} guest RAM or kvm_run)";
    }
}
