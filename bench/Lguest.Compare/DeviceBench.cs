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

    /// <summary>Target length of one measurement; the invocation count is fixed from it once, in the warm-up.</summary>
    private static readonly TimeSpan MeasurementTarget = TimeSpan.FromMilliseconds(300);

    /// <summary>Warm-up per case: long enough for tiered compilation to reach its optimized code.</summary>
    private static readonly TimeSpan WarmUp = TimeSpan.FromMilliseconds(700);

    public static List<Figure> Run(int rounds, Action<string> log)
    {
        var cases = new List<Case>();
        var disposables = new List<Action>();
        try
        {
            foreach (int bytes in new[] { 4096, 1 << 20 })
            {
                var block = new BlockBenchmarks { RequestBytes = bytes };
                block.Setup();
                disposables.Add(block.Cleanup);
                bool small = bytes == 4096;
                string size = small ? "4 KiB" : "1 MiB";
                string unit = small ? "req/s" : "GB/s";
                double scale = small ? 1 : bytes / 1e9;
                cases.Add(new Case($"block read {size}: virtio-blk requests vs preadv on the same file", $"block read {size}", unit, BlockBenchmarks.Depth, scale,
                    block.DeviceRead, block.HostPreadv, small ? 0.7 : 0.9));
                cases.Add(new Case($"block write {size}: virtio-blk requests vs pwritev on the same file", $"block write {size}", unit, BlockBenchmarks.Depth, scale,
                    block.DeviceWrite, block.HostPwritev, small ? 0.7 : 0.9));
            }
            foreach (int frame in new[] { 64, 1514 })
            {
                // Two tap set-ups per frame size, each in a namespace of its own: with the device active its
                // receive worker reads the tap, so the tap's own rate needs a tap nobody else reads.
                var device = new NetBenchmarks { FrameBytes = frame };
                device.SetupDevice();
                disposables.Add(device.Cleanup);
                var tap = new NetBenchmarks { FrameBytes = frame };
                tap.SetupTap();
                disposables.Add(tap.Cleanup);
                // The issue sets no bound for frames: they are held to the small-request one (0.7), a frame being
                // one request whatever its size (an MTU frame is under half of a 4 KiB block request).
                cases.Add(new Case($"net transmit {frame}-byte frames: virtio-net vs writev to the tap", $"net transmit {frame} B", "frames/s", NetBenchmarks.Depth, 1,
                    device.DeviceTransmit, tap.TapWrite, 0.7));
                cases.Add(new Case($"net receive {frame}-byte frames: virtio-net vs readv from the tap", $"net receive {frame} B", "frames/s", NetBenchmarks.Depth, 1,
                    device.DeviceReceive, tap.TapRead, 0.7));
            }

            foreach (Case c in cases)
            {
                c.Calibrate();
                log($"devices: {c.Name}: {c.Invocations} invocations of {c.Depth} per measurement");
            }

            for (int round = 1; round <= rounds; round++)
            {
                foreach (Case c in cases)
                {
                    // Alternate which side goes first, so neither always runs on a cache the other warmed.
                    if (round % 2 == 1)
                    {
                        c.Figure.Add(Device, c.Measure(c.DeviceSide));
                        c.Figure.Add(Host, c.Measure(c.HostSide));
                    }
                    else
                    {
                        double host = c.Measure(c.HostSide);
                        c.Figure.Add(Device, c.Measure(c.DeviceSide));
                        c.Figure.Add(Host, host);
                    }
                    log($"round {round} {c.Name}: device {c.Figure.Values[Device][^1]:G4} host {c.Figure.Values[Host][^1]:G4} {c.Figure.Unit}");
                }
            }
        }
        finally
        {
            foreach (Action dispose in Enumerable.Reverse(disposables))
                dispose();
        }
        return [.. cases.Select(c => c.Figure)];
    }

    /// <summary>One measured pair: the device's invocation and the host's, each doing <see cref="Depth"/> operations.</summary>
    private sealed class Case(string name, string shortName, string unit, int depth, double scale, Action deviceSide, Action hostSide, double goal)
    {
        public string Name { get; } = name;

        public int Depth { get; } = depth;

        public Action DeviceSide { get; } = deviceSide;

        public Action HostSide { get; } = hostSide;

        public int Invocations { get; private set; }

        public Figure Figure { get; } = new()
        {
            Section = Section,
            Name = name,
            Short = shortName,
            Unit = unit,
            LowerIsBetter = false,
            Ratios = [(Device, Host)],
            Goal = new Goal(GoalKind.RatioAtLeast, goal, Device, $"device throughput at least {goal:0.0#} of the host's own"),
        };

        /// <summary>Warms both sides up, then fixes the invocation count from the faster one's rate.</summary>
        public void Calibrate()
        {
            double fastest = 0;
            foreach (Action side in new[] { DeviceSide, HostSide })
            {
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

        /// <summary>The rate of <see cref="Invocations"/> invocations of <paramref name="side"/>, in the figure's unit.</summary>
        public double Measure(Action side)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < Invocations; i++)
                side();
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            return (double)Invocations * Depth / seconds * scale;
        }
    }
}
