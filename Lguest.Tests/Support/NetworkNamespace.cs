using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.ExceptionServices;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Tests.Support;

/// <summary>
/// A network namespace of its own for one test (<c>ip netns add lguest-test-&lt;random&gt;</c>), deleted on
/// dispose with every interface in it. Code that creates taps or sockets runs through <see cref="Run{T}"/>
/// on a dedicated thread that joined the namespace with setns(2) (network namespaces are per thread);
/// what it creates keeps that namespace when used from any other thread. No tap is ever made and no
/// frame ever sent in the host's own namespace. IPv6 is off in it, so the host stack stays silent
/// unless a test makes it speak.
/// </summary>
internal sealed partial class NetworkNamespace : IDisposable
{
    private const int CloneNewNet = 0x40000000; // CLONE_NEWNET, <sched.h>

    private NetworkNamespace(string name) => Name = name;

    public string Name { get; }

    /// <summary>Creates the namespace with its loopback up, or ignores the test when the host cannot.</summary>
    public static NetworkNamespace CreateOrIgnore()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            Assert.Ignore("network namespaces need root on Linux");
        if (!File.Exists("/dev/net/tun"))
            Assert.Ignore("/dev/net/tun is missing: the tun module is not loaded");
        string name = "lguest-test-" + Guid.NewGuid().ToString("N")[..12];
        (int rc, string output) = RunTool("ip", ["netns", "add", name]);
        if (rc != 0)
            Assert.Ignore($"cannot create a network namespace: {output}");
        var ns = new NetworkNamespace(name);
        ns.Ip("link", "set", "lo", "up");
        // A quiet namespace: no IPv6 on new interfaces, so a tap coming up sends no router
        // solicitations or MLD reports of its own into the frames a test checks.
        (rc, output) = ns.Exec("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
        if (rc != 0)
        {
            ns.Dispose();
            Assert.Ignore($"cannot switch IPv6 off in the test namespace: {output}");
        }
        return ns;
    }

    /// <summary>Runs <paramref name="body"/> inside the namespace, on a thread that exists only for it.</summary>
    public T Run<T>(Func<T> body)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using SafeFileHandle handle = File.OpenHandle($"/var/run/netns/{Name}");
                if (SetNs(handle, CloneNewNet) != 0)
                    throw new InvalidOperationException($"setns({Name}) failed: errno {Marshal.GetLastPInvokeError()}");
                result = body();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        }) { Name = $"netns {Name}", IsBackground = true };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    /// <summary>Runs <paramref name="body"/> inside the namespace.</summary>
    public void Run(Action body) => Run(() =>
    {
        body();
        return 0;
    });

    /// <summary>Runs <c>ip -n NAME args...</c> and returns its output; fails the test if it fails.</summary>
    public string Ip(params string[] args)
    {
        (int rc, string output) = RunTool("ip", ["-n", Name, .. args]);
        Assert.That(rc, Is.Zero, $"ip -n {Name} {string.Join(' ', args)}: {output}");
        return output;
    }

    /// <summary>Runs <paramref name="program"/> inside the namespace (<c>ip netns exec</c>); returns its exit code and output.</summary>
    public (int ExitCode, string Output) Exec(string program, params string[] args) =>
        RunTool("ip", ["netns", "exec", Name, program, .. args]);

    /// <summary>The names of the namespace's interfaces.</summary>
    public IReadOnlyList<string> Interfaces() =>
        Ip("-o", "link", "show").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(':')[1].Trim().Split('@')[0]).ToArray();

    public void Dispose() => RunTool("ip", ["netns", "del", Name]);

    internal static (int ExitCode, string Output) RunTool(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
            info.ArgumentList.Add(a);
        try
        {
            using Process process = Process.Start(info)!;
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stdout + stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, $"{file}: {e.Message}");
        }
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(SafeFileHandle fd, int nstype);
}
