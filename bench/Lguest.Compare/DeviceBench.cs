using System.Diagnostics;
using Lguest.Benchmarks;

namespace Lguest.Compare;

/// <summary>
/// The devices with no guest CPU in the loop, beside the host's own I/O on the same file and tap. The
/// work is bench/Lguest.Benchmarks' (this thread writes request chains into guest memory as a driver
/// would, notifies, sleeps on the interrupt; the device's worker serves them), driven here for a fixed
/// number of invocations instead of by BenchmarkDotNet, so device and host alternate run by run under
/// the same load, like the VMMs of the other sections.
/// </summary>
internal static class DeviceBench
{
    public const string Section = "Host-side devices: no guest CPU";
    public const string Device = "lguest-device";
    public const string Host = "host";
    public const string HostIoUring = "host-io_uring";
    public const string HostInterrupt = "host+interrupt";
    public const string DeviceSync = "lguest-device-sync";
    public const string DeviceThreads = "lguest-device-threads";
    public const string DeviceHaltPoll = "lguest-device-haltpoll";
    public const string DeviceNoMerge = "lguest-device-nomerge";
    public const string DeviceBothPoll = "lguest-device-bothpoll";
    public const string DeviceIoEventFd = "lguest-device-ioeventfd";
    public const string DevicePolled = "lguest-device-polled";

    /// <summary>The driver's spin before it sleeps in the <see cref="DeviceHaltPoll"/> column: KVM's default halt_poll_ns.</summary>
    private static readonly TimeSpan HaltPoll = TimeSpan.FromMicroseconds(200);

    /// <summary>Target length of one measurement; the invocation count is fixed from it once, in the warm-up.</summary>
    private static readonly TimeSpan MeasurementTarget = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// Slices of each block measurement: the sides take turns slice by slice (about 50 ms each) instead of one 0.3 s
    /// run after another. A buffered write's cost on this host moves by 2-4x within seconds (4 KiB writes into the
    /// image's large folios walk every buffer head of the folio, memory-bound, so a neighbour's burst or a journal
    /// commit slows them), and a side measured whole during such a spell read as the device's fault or merit: random
    /// 4 KiB write rounds swung 0.47-1.19 with a settled page cache (issue 20's seventh pass). Turn by turn, every
    /// side meets the same spells.
    /// </summary>
    private const int BlockSlices = 6;

    /// <summary>Warm-up per case: long enough for tiered compilation to reach its optimized code.</summary>
    private static readonly TimeSpan WarmUp = TimeSpan.FromMilliseconds(700);

    /// <summary>The section of the counts per request (system calls, context switches and CPU time of every thread of the process).</summary>
    public const string CountsSection = "Host-side devices: system calls, context switches and CPU time per request";

    /// <summary>Issue 16's vsock cases, a section (and a harness section, <c>--sections vsock</c>) of their own.</summary>
    public const string VsockSection = "vsock, host side: no guest CPU";

    /// <summary>The counts of the vsock cases.</summary>
    public const string VsockCountsSection = "vsock, host side: system calls, context switches and CPU time per request";

    /// <summary>
    /// Runs the cases whose short name contains one of <paramref name="only"/> (every case when empty), in
    /// <paramref name="rounds"/> interleaved rounds; with perf events available, also counts each side's system calls
    /// and context switches per request. Cases whose short name contains one of <paramref name="except"/> are left out.
    /// </summary>
    public static List<Figure> Run(int rounds, Action<string> log, IReadOnlyCollection<string>? only = null, IReadOnlyCollection<string>? except = null)
    {
        var cases = new List<Case>();
        var disposables = new List<Action>();
        // A case's set-up (a 256 MiB image per block device, a namespace and tap per network device) is made only
        // for cases that will run.
        bool Wanted(params string[] shortNames) =>
            only is not { Count: > 0 } || shortNames.Any(n => only.Any(o => n.Contains(o, StringComparison.OrdinalIgnoreCase)));
        try
        {
            // Issue 20's block cases: 4 KiB at random offsets and 1 MiB walking the image, at queue depth 1 (each
            // request's whole round trip) and 32, beside preadv/pwritev and the host's own io_uring; and 4 KiB walking
            // the image at depth 32, where adjacent requests can be merged.
            foreach ((int bytes, bool random, int[] depths) in new[] { (4096, true, new[] { 1, BlockBenchmarks.Depth }),
                (4096, false, new[] { BlockBenchmarks.Depth }), (1 << 20, false, new[] { 1, BlockBenchmarks.Depth }) })
            {
                foreach (int depth in depths)
                {
                    string chart = $"{(bytes == 4096 ? "4K" : "1M")} {(random ? "rand" : "seq")} QD{depth}";
                    if (!Wanted($"block read {chart}", $"block write {chart}"))
                        continue;
                    var block = new BlockBenchmarks { RequestBytes = bytes, RandomOffsets = random, QueueDepth = depth };
                    block.Setup();
                    disposables.Add(block.Cleanup);
                    // The other engine, on an image of its own: one request at a time with blocking calls.
                    var sync = new BlockBenchmarks { RequestBytes = bytes, RandomOffsets = random, QueueDepth = depth, IoEngine = Devices.VirtioBlockIoEngine.Sync };
                    sync.Setup();
                    disposables.Add(sync.Cleanup);
                    // The thread-pool engine (QEMU's aio=threads), on an image of its own too.
                    var threads = new BlockBenchmarks { RequestBytes = bytes, RandomOffsets = random, QueueDepth = depth, IoEngine = Devices.VirtioBlockIoEngine.Threads };
                    threads.Setup();
                    disposables.Add(threads.Cleanup);
                    // At queue depth 1 each request pays two thread sleeps (the driver's and the worker's); this column
                    // lets the driver spin first, as KVM polls a halted vCPU, to show what those sleeps cost.
                    // The last column lets the device's worker poll as long too (its window may grow to 200 µs instead of
                    // 32): both sides spin, no thread sleeps while the other works, at the price of the CPU it burns.
                    // Issue 20's fourth pass: the device column serves a lone request on the notifying thread; this one
                    // wakes the worker for each, as before (every notification through the queue's eventfd, as KVM's
                    // ioeventfd writes it).
                    // Issue 20's fifth pass: the same device with a driver that asks for no interrupt and polls the used
                    // index (Linux's poll queues): what the interrupt's system call costs a lone request.
                    BlockBenchmarks? polled = null, bothPolled = null, woken = null, noInterrupt = null;
                    if (depth == 1)
                    {
                        noInterrupt = new BlockBenchmarks { RequestBytes = bytes, RandomOffsets = random, QueueDepth = depth, PolledDriver = true };
                        noInterrupt.Setup();
                        disposables.Add(noInterrupt.Cleanup);
                        woken = new BlockBenchmarks { RequestBytes = bytes, RandomOffsets = random, QueueDepth = depth, ServeOnVcpu = false };
                        woken.Setup();
                        disposables.Add(woken.Cleanup);
                        polled = new BlockBenchmarks { RequestBytes = bytes, RandomOffsets = random, QueueDepth = depth, DriverPollTime = HaltPoll };
                        polled.Setup();
                        disposables.Add(polled.Cleanup);
                        bothPolled = new BlockBenchmarks { RequestBytes = bytes, RandomOffsets = random, QueueDepth = depth, DriverPollTime = HaltPoll, MaxPollTime = HaltPoll };
                        bothPolled.Setup();
                        disposables.Add(bothPolled.Cleanup);
                    }
                    // With requests in flight, the same device with adjacent-request merging off, on an image of its own.
                    BlockBenchmarks? unmerged = null;
                    if (depth > 1)
                    {
                        unmerged = new BlockBenchmarks { RequestBytes = bytes, RandomOffsets = random, QueueDepth = depth, MergeRequests = false };
                        unmerged.Setup();
                        disposables.Add(unmerged.Cleanup);
                    }
                    bool small = bytes == 4096;
                    string what = $"{(small ? "4 KiB" : "1 MiB")} {(random ? "random" : "sequential")}";
                    string unit = small ? "req/s" : "GB/s";
                    double scale = small ? 1 : bytes / 1e9;
                    foreach ((string verb, string call, Action device, Action host, Action uring, Action blocking, Action pool) in new (string, string, Action, Action, Action, Action, Action)[]
                    {
                        ("read", "preadv", block.DeviceRead, block.HostPreadv, block.HostIoUringRead, sync.DeviceRead, threads.DeviceRead),
                        ("write", "pwritev", block.DeviceWrite, block.HostPwritev, block.HostIoUringWrite, sync.DeviceWrite, threads.DeviceWrite),
                    })
                    {
                        // Beside the host's call, the same call plus the used-buffer interrupt a device must make per
                        // round (an eventfd write): at queue depth 1 that system call is as long as a 4 KiB page-cache
                        // read, so this is the bound for any virtio device (BlockBenchmarks.HostPreadvInterrupt).
                        var sides = new List<(string, Action)> { (Device, device), (Host, host),
                            (HostInterrupt, verb == "read" ? block.HostPreadvInterrupt : block.HostPwritevInterrupt) };
                        if (block.HasHostIoUring)
                            sides.Add((HostIoUring, uring));
                        sides.Add((DeviceSync, blocking));
                        sides.Add((DeviceThreads, pool));
                        if (woken is not null)
                            sides.Add((DeviceIoEventFd, verb == "read" ? woken.DeviceRead : woken.DeviceWrite));
                        if (noInterrupt is not null)
                            sides.Add((DevicePolled, verb == "read" ? noInterrupt.DeviceRead : noInterrupt.DeviceWrite));
                        if (polled is not null)
                            sides.Add((DeviceHaltPoll, verb == "read" ? polled.DeviceRead : polled.DeviceWrite));
                        if (bothPolled is not null)
                            sides.Add((DeviceBothPoll, verb == "read" ? bothPolled.DeviceRead : bothPolled.DeviceWrite));
                        if (unmerged is not null)
                            sides.Add((DeviceNoMerge, verb == "read" ? unmerged.DeviceRead : unmerged.DeviceWrite));
                        // Every side starts its timed part from the same page cache: nothing dirty, nothing under
                        // writeback (PageCache says why).
                        cases.Add(new Case($"block {verb} {what}, QD {depth}: virtio-blk requests vs {call} (and io_uring) on the same file",
                            $"block {verb} {chart}", unit, BlockBenchmarks.Depth, scale, sides, 0.9) { Settle = PageCache.Settle, Slices = BlockSlices });
                    }
                }
            }
            foreach (int frame in new[] { 64, 1514 })
            {
                if (!Wanted($"net transmit {frame} B", $"net receive {frame} B"))
                    continue;
                // Two tap set-ups per frame size, each in a namespace of its own: with the device active its
                // receive worker reads the tap, so the tap's own rate needs a tap nobody else reads.
                var device = new NetBenchmarks { FrameBytes = frame };
                device.SetupDevice();
                disposables.Add(device.Cleanup);
                var tap = new NetBenchmarks { FrameBytes = frame };
                tap.SetupTap();
                disposables.Add(tap.Cleanup);
                // Issue 20's fifth pass: the device column writes a notification's frames on the notifying thread
                // while the worker sleeps; this one wakes the worker for each notification, as before.
                var woken = new NetBenchmarks { FrameBytes = frame, TransmitOnVcpu = false };
                woken.SetupDevice();
                disposables.Add(woken.Cleanup);
                // The issue sets no bound for frames: they are held to the small-request one (0.7), a frame being
                // one request whatever its size (an MTU frame is under half of a 4 KiB block request).
                // Issue 20 holds transmit to 0.9 of writev; receive keeps issue 9's 0.7.
                cases.Add(new Case($"net transmit {frame}-byte frames: virtio-net vs writev to the tap", $"net transmit {frame} B", "frames/s", NetBenchmarks.Depth, 1,
                    [(Device, device.DeviceTransmit), (Host, tap.TapWrite), (DeviceIoEventFd, woken.DeviceTransmit)], 0.9));
                cases.Add(new Case($"net receive {frame}-byte frames: virtio-net vs readv from the tap", $"net receive {frame} B", "frames/s", NetBenchmarks.Depth, 1,
                    [(Device, device.DeviceReceive), (Host, tap.TapRead)], 0.7));
            }

            foreach (int packet in new[] { 4096, 65536 })
            {
                if (!Wanted($"vsock tx {packet / 1024}K", $"vsock rx {packet / 1024}K"))
                    continue;
                // Issue 16: the device on a hybrid vsock connection beside the same bytes through a Unix socket pair.
                var device = new VsockBenchmarks { PacketBytes = packet };
                device.SetupDevice();
                disposables.Add(device.Cleanup);
                // The transmit queue's notifications served by the worker, woken for each (ServeOnVcpu off, an ioeventfd).
                var woken = new VsockBenchmarks { PacketBytes = packet, ServeOnVcpu = false };
                woken.SetupDevice();
                disposables.Add(woken.Cleanup);
                var pair = new VsockBenchmarks { PacketBytes = packet };
                pair.SetupSocketPair();
                disposables.Add(pair.Cleanup);
                double megabytes = VsockBenchmarks.RoundBytes / 1e6;
                cases.Add(new Case($"vsock guest to host, {packet / 1024} KiB packets: virtio-vsock to a Unix socket vs a socket pair", $"vsock tx {packet / 1024}K",
                    "MB/s", 1, megabytes, [(Device, device.DeviceTransmit), (Host, pair.SocketPairWrite), (DeviceIoEventFd, woken.DeviceTransmit)], 0.9,
                    VsockSection, VsockCountsSection));
                cases.Add(new Case($"vsock host to guest, {packet / 1024} KiB packets: a Unix socket to virtio-vsock vs a socket pair", $"vsock rx {packet / 1024}K",
                    "MB/s", 1, megabytes, [(Device, device.DeviceReceive), (Host, pair.SocketPairRead), (DeviceIoEventFd, woken.DeviceReceive)], 0.9,
                    VsockSection, VsockCountsSection));
            }

            if (only is { Count: > 0 })
                cases.RemoveAll(c => !only.Any(o => c.Figure.ChartName.Contains(o, StringComparison.OrdinalIgnoreCase)));
            if (except is { Count: > 0 })
                cases.RemoveAll(c => except.Any(o => c.Figure.ChartName.Contains(o, StringComparison.OrdinalIgnoreCase)));
            using ThreadCounters? counters = ThreadCounters.TryOpen(out string? problem);
            if (counters is null)
                log($"devices: no counts per request ({problem})");
            foreach (Case c in cases)
            {
                c.Counters = counters;
                c.Calibrate();
                log($"devices: {c.Name}: {c.Invocations} invocations of {c.Depth} per measurement"
                    + (c.Settle is null ? "" : $" (dirty + writeback after each settle: at most {c.TakeMostDirtyKiB() / 1024.0:0.#} MiB)"));
            }

            for (int round = 1; round <= rounds; round++)
            {
                foreach (Case c in cases)
                {
                    // Alternate which side goes first, so none always runs on a cache another warmed.
                    IEnumerable<(string Column, Action Act)> order = round % 2 == 1 ? c.Sides : Enumerable.Reverse(c.Sides);
                    if (c.Slices > 1)
                    {
                        foreach ((string column, double rate) in c.MeasureInTurns(order.ToList()))
                            c.Figure.Add(column, rate);
                    }
                    else
                    {
                        foreach ((string column, Action act) in order.ToList())
                            c.Figure.Add(column, c.Measure(column, act));
                    }
                    log($"round {round} {c.Name}: " + string.Join(' ', c.Sides.Select(side => $"{side.Column} {c.Figure.Values[side.Column][^1]:G4}")) + $" {c.Figure.Unit}"
                        + (c.Settle is null ? "" : $" (dirty + writeback at the starts: at most {c.TakeMostDirtyKiB() / 1024.0:0.#} MiB)"));
                }
            }
        }
        finally
        {
            foreach (Action dispose in Enumerable.Reverse(disposables))
                dispose();
        }
        return [.. cases.Select(c => c.Figure), .. cases.SelectMany(c => c.CountFigures).Where(f => f.Values.Count != 0)];
    }

    /// <summary>One measured case: the device's invocation and the host's (one or two ways), each doing <see cref="Depth"/> operations.</summary>
    private sealed class Case(string name, string shortName, string unit, int depth, double scale, List<(string Column, Action Act)> sides, double goal,
        string section = Section, string countsSection = CountsSection)
    {
        public string Name { get; } = name;

        public int Depth { get; } = depth;

        /// <summary>The device first, then the host's sides.</summary>
        public List<(string Column, Action Act)> Sides { get; } = sides;

        public int Invocations { get; private set; }

        /// <summary>
        /// Called before each side's warm-up and timed part, untimed and uncounted, to bring the machine to the same
        /// state for every side (<see cref="PageCache.Settle"/>: returns what was left dirty, in KiB); null: nothing.
        /// </summary>
        public Func<long>? Settle { get; init; }

        /// <summary>
        /// How many turns a round's measurement of each side is cut into (<see cref="MeasureInTurns"/>); 1: each side
        /// measured whole, one after another (<see cref="Measure"/>).
        /// </summary>
        public int Slices { get; init; } = 1;

        private long _mostDirtyKiB;

        /// <summary>The most dirty + writeback memory (KiB) a settle left since the last call, for the round's log line.</summary>
        public long TakeMostDirtyKiB() => Interlocked.Exchange(ref _mostDirtyKiB, 0);

        private void SettleBefore()
        {
            if (Settle is not null)
                _mostDirtyKiB = Math.Max(_mostDirtyKiB, Settle());
        }

        /// <summary>Counters of the process's threads, read around each measurement; null: no counts.</summary>
        public ThreadCounters? Counters { get; set; }

        /// <summary>
        /// System calls, context switches and CPU time per request, by side (no goal: the counts explain the rates). CPU
        /// time is what a request costs the machine whatever the load; the rate adds the time spent waiting for a core.
        /// </summary>
        public Figure[] CountFigures { get; } =
        [
            new() { Section = countsSection, Name = $"{name}: system calls per request, all threads", Short = $"{shortName} syscalls", Unit = "calls" },
            new() { Section = countsSection, Name = $"{name}: context switches per request, all threads", Short = $"{shortName} switches", Unit = "switches" },
            new() { Section = countsSection, Name = $"{name}: CPU time per request, all threads", Short = $"{shortName} CPU", Unit = "µs" },
        ];

        public Figure Figure { get; } = new()
        {
            Section = section,
            Name = name,
            Short = shortName,
            Unit = unit,
            LowerIsBetter = false,
            // The device over each host side; the other engines (more device columns) over the host's calls, and the
            // thread pool over the io_uring engine (which to make the default).
            Ratios = [.. sides.Skip(1).Where(side => side.Column is not (DeviceSync or DeviceThreads or DeviceHaltPoll or DeviceBothPoll or DeviceNoMerge or DeviceIoEventFd or DevicePolled)).Select(side => (Device, side.Column)),
                // What merging adjacent requests buys (or costs: random offsets have nothing to merge).
                .. sides.Any(side => side.Column == DeviceNoMerge) ? new[] { (Device, DeviceNoMerge), (DeviceNoMerge, Host) } : [],
                .. sides.Any(side => side.Column == DeviceThreads) ? new[] { (DeviceThreads, Host), (DeviceThreads, Device) } : [],
                // What serving a lone request on the notifying thread buys: the worker woken for each instead.
                .. sides.Any(side => side.Column == DeviceIoEventFd) ? new[] { (DeviceIoEventFd, Host) } : [],
                .. sides.Any(side => side.Column == DevicePolled) ? new[] { (DevicePolled, Host) } : [],
                .. sides.Any(side => side.Column == DeviceHaltPoll) ? new[] { (DeviceHaltPoll, Host) } : [],
                .. sides.Any(side => side.Column == DeviceBothPoll) ? new[] { (DeviceBothPoll, Host) } : [],
                .. sides.Any(side => side.Column == DeviceSync) ? new[] { (DeviceSync, Host) } : []],
            Goal = new Goal(GoalKind.RatioAtLeast, goal, Device, $"device throughput at least {goal:0.0#} of the host's own"),
        };

        /// <summary>Warms both sides up, then fixes the invocation count from the faster one's rate.</summary>
        public void Calibrate()
        {
            double fastest = 0;
            foreach ((_, Action side) in Sides)
            {
                SettleBefore();
                long start = Stopwatch.GetTimestamp();
                int n = 0;
                while (Stopwatch.GetElapsedTime(start) < WarmUp)
                {
                    side();
                    n++;
                }
                fastest = Math.Max(fastest, n / Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
            Invocations = Math.Max(1, (int)(fastest * MeasurementTarget.TotalSeconds));
        }

        /// <summary>
        /// The rate of <see cref="Invocations"/> invocations of <paramref name="side"/>, in the figure's unit; its
        /// counts per request go to <see cref="CountFigures"/> under <paramref name="column"/>.
        /// </summary>
        public double Measure(string column, Action side)
        {
            SettleBefore();
            ThreadCounters.Sample before = Counters?.Read() ?? default;
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < Invocations; i++)
                side();
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (Counters is not null)
            {
                ThreadCounters.Sample used = Counters.Read() - before;
                double requests = (double)Invocations * Depth;
                CountFigures[0].Add(column, used.SystemCalls / requests);
                CountFigures[1].Add(column, used.ContextSwitches / requests);
                CountFigures[2].Add(column, used.CpuNanoseconds / 1e3 / requests);
            }
            return (double)Invocations * Depth / seconds * scale;
        }

        /// <summary>
        /// One round of every side, taken in turns: one settle for the round (the sides then share the page cache as
        /// it evolves), then <see cref="Slices"/> turns, each side doing its share of <see cref="Invocations"/> per
        /// turn, the order reversed every other turn; each side's rate is its invocations over its own timed
        /// slices, its counts per request the sum over them.
        /// </summary>
        public List<(string Column, double Rate)> MeasureInTurns(List<(string Column, Action Act)> order)
        {
            int perSlice = Math.Max(1, (Invocations + Slices - 1) / Slices);
            var seconds = new double[order.Count];
            var used = new ThreadCounters.Sample[order.Count];
            SettleBefore();
            for (int slice = 0; slice < Slices; slice++)
            {
                for (int k = 0; k < order.Count; k++)
                {
                    int i = slice % 2 == 0 ? k : order.Count - 1 - k;
                    Action side = order[i].Act;
                    ThreadCounters.Sample before = Counters?.Read() ?? default;
                    long start = Stopwatch.GetTimestamp();
                    for (int n = 0; n < perSlice; n++)
                        side();
                    seconds[i] += Stopwatch.GetElapsedTime(start).TotalSeconds;
                    if (Counters is not null)
                    {
                        ThreadCounters.Sample after = Counters.Read() - before;
                        used[i] = new ThreadCounters.Sample(used[i].SystemCalls + after.SystemCalls,
                            used[i].ContextSwitches + after.ContextSwitches, used[i].CpuNanoseconds + after.CpuNanoseconds);
                    }
                }
            }
            double requests = (double)perSlice * Slices * Depth;
            var rates = new List<(string Column, double Rate)>(order.Count);
            for (int i = 0; i < order.Count; i++)
            {
                if (Counters is not null)
                {
                    CountFigures[0].Add(order[i].Column, used[i].SystemCalls / requests);
                    CountFigures[1].Add(order[i].Column, used[i].ContextSwitches / requests);
                    CountFigures[2].Add(order[i].Column, used[i].CpuNanoseconds / 1e3 / requests);
                }
                rates.Add((order[i].Column, requests / seconds[i] * scale));
            }
            return rates;
        }
    }
}
