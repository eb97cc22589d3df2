using System.Runtime.InteropServices;
using System.Text;
using Lguest.Interop;

namespace Lguest.Seccomp;

/// <summary>
/// <c>--seccomp=log</c>'s thread, which hears of every call outside the policy (the seccomp listener
/// descriptor): it names each distinct call, with the arguments that matter, once on standard error and lets
/// it run. That is how the policy is measured.
/// </summary>
/// <remarks>
/// It writes with write(2) on descriptor 2, not through Console: the thread stopped in the call may hold the
/// console's lock. It is managed code, so a call the runtime makes while it holds the GC's lock would stop it
/// too (it allocates): a measuring run can hang where <c>--seccomp=on</c>'s handler (<see cref="SigsysHandler"/>)
/// would have named the call and ended the process; run it with the filter on to see that call.
/// </remarks>
internal sealed class SeccompListener
{
    private readonly HashSet<string> _logged = [];
    private readonly TaskCompletionSource<int> _descriptor = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Thread? _thread;

    /// <summary>
    /// Starts the thread before the filter exists and has it run everything it will ever run once, so that under
    /// the filter it needs no call the policy lacks: it hears of its own calls, and a call of its own outside the
    /// policy would wait for itself forever. It then waits for <see cref="Attach"/>.
    /// </summary>
    public void Start()
    {
        var ready = new ManualResetEventSlim();
        _thread = new Thread(() =>
        {
            Libc.SeccompNotif sample = default;
            sample.Number = 16; // ioctl: the longest description
            _ = Encoding.UTF8.GetBytes(Describe(sample) + Format("sample"));
            _logged.Add("sample");
            _logged.Clear();
            ready.Set();
            Listen(_descriptor.Task.GetAwaiter().GetResult());
        }) { IsBackground = true, Name = "seccomp listener" };
        _thread.Start();
        ready.Wait();
    }

    /// <summary>Hands the thread the listener descriptor the filter's installation returned.</summary>
    public void Attach(int fd) => _descriptor.SetResult(fd);

    /// <summary>The filter could not be installed: the thread ends.</summary>
    public void Abandon() => _descriptor.SetResult(-1);

    private static string Format(string call) => $"lguest: seccomp: {call} is outside the policy (allowed: --seccomp=log)";

    private unsafe void Listen(int fd)
    {
        if (fd < 0)
            return;
        while (true)
        {
            Libc.SeccompNotif notification = default;
            if (Libc.Ioctl(fd, Libc.SeccompIoctlNotifRecv, &notification) != 0)
            {
                int error = Marshal.GetLastPInvokeError();
                if (error is Libc.EINTR or Libc.ENOENT)
                    continue; // interrupted, or the caller died before we read it
                WriteLine($"lguest: seccomp listener stopped: {Marshal.GetPInvokeErrorMessage(error)}");
                return;
            }
            string call = Describe(notification);
            if (_logged.Add(call))
                WriteLine(Format(call));
            var response = new Libc.SeccompNotifResp { Id = notification.Id, Flags = Libc.SeccompUserNotifFlagContinue };
            Libc.Ioctl(fd, Libc.SeccompIoctlNotifSend, &response);
        }
    }

    /// <summary>The call's name and, for a call the policy filters by argument, the arguments that matter.</summary>
    internal static unsafe string Describe(in Libc.SeccompNotif n)
    {
        string name = SystemCallNames.Of(n.Number);
        fixed (ulong* a = n.Arguments)
        {
            return name switch
            {
                "ioctl" => $"ioctl(fd {a[0]}, request 0x{(uint)a[1]:x})",
                "socket" => $"socket(family {(int)a[0]}, type 0x{(uint)a[1]:x})",
                "prctl" => $"prctl(option {(int)a[0]})",
                "clone" => $"clone(flags 0x{a[0]:x})",
                "tgkill" => $"tgkill(pid {(int)a[0]}, signal {(int)a[2]})",
                _ => name,
            };
        }
    }

    private static unsafe void WriteLine(string line)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(line + "\n");
        fixed (byte* p = bytes)
            Libc.Write(2, p, (nuint)bytes.Length);
    }
}
