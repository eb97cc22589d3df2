using System.Net.Sockets;

namespace Lguest.Cli;

/// <summary>
/// A test-only hook: with <c>LGUEST_SECCOMP_SELFTEST=1</c> in the environment, a thread opens an IPv4 socket a
/// second after the filter is installed, a call no policy allows, so the tests see the process die of SIGSYS
/// with the one line naming the call while a real guest runs. With <c>LGUEST_SECCOMP_SELFTEST=gc</c> the thread
/// makes the garbage collector do all it does (gen0 and compacting full collections, a large object heap
/// that grows and is given back) under the filter, then writes <see cref="CollectionsDone"/> on stderr: the
/// GC's own calls come at its own moments in a long run, and one outside the policy stops every thread. It then
/// collects again every <see cref="CollectionInterval"/> until the process ends, so a test driving the machine
/// meanwhile (pauses and resumes: ApiPauseProbeTests) has the GC stop every managed thread in the middle of it.
/// </summary>
internal static class SeccompSelfTest
{
    public const string Variable = "LGUEST_SECCOMP_SELFTEST";

    public static void ArmIfAsked()
    {
        string? mode = Environment.GetEnvironmentVariable(Variable);
        if (mode == "gc")
        {
            new Thread(Collect) { IsBackground = true, Name = "seccomp self-test" }.Start();
            return;
        }
        if (mode != "1")
            return;
        var thread = new Thread(() =>
        {
            Thread.Sleep(1000);
            try
            {
                // socket(AF_INET, ...): outside every policy, which allows AF_UNIX only. --seccomp=log lets it run.
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            }
            catch (SocketException)
            {
            }
        }) { IsBackground = true, Name = "seccomp self-test" };
        thread.Start();
    }

    /// <summary>The line the gc mode writes once the collections are done.</summary>
    public const string CollectionsDone = "lguest: seccomp self-test: collections done";

    /// <summary>
    /// How often the gc mode collects after its first pass: a few times in each pause/resume pair of a test's loop
    /// (about 150 ms a pair, with an echo, on this host's software KVM).
    /// </summary>
    private static readonly TimeSpan CollectionInterval = TimeSpan.FromMilliseconds(50);

    private static void Collect()
    {
        Thread.Sleep(1000);
        var kept = new List<byte[]>();
        for (int round = 0; round < 4; round++)
        {
            for (int i = 0; i < 64; i++)
                kept.Add(new byte[(i % 8 + 1) * 128 * 1024]); // up to 1 MiB each: the large object heap grows
            GC.Collect(0, GCCollectionMode.Forced, blocking: true);
            kept.RemoveRange(0, kept.Count / 2);
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            _ = GC.GetGCMemoryInfo();
        }
        kept.Clear();
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true); // gives memory back to the host
        // Straight to fd 2: under the JIT, Console's first use here would load an assembly, an open the filter forbids.
        using var error = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(2, ownsHandle: false), FileAccess.Write, bufferSize: 0);
        error.Write(System.Text.Encoding.ASCII.GetBytes(CollectionsDone + "\n"));
        while (true)
        {
            Thread.Sleep(CollectionInterval);
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        }
    }
}
