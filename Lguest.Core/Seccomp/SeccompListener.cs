using System.Runtime.InteropServices;
using System.Text;
using Lguest.Interop;

namespace Lguest.Seccomp;

/// <summary>
/// The thread that hears of every call outside the policy (the seccomp listener descriptor): it writes one line
/// naming the call and its first arguments to standard error, then kills the process with SIGSYS or, in log
/// mode, lets the call run and names each distinct call once.
/// </summary>
/// <remarks>
/// It writes with write(2) on descriptor 2, not through Console: the thread stopped in the denied call may hold
/// the console's lock. Everything it calls is in every policy (the ioctls, write, prctl, rt_sigaction, tgkill).
/// </remarks>
internal sealed class SeccompListener(SeccompMode mode)
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
            _ = Encoding.UTF8.GetBytes(Describe(sample) + Format("sample", SeccompMode.Log) + Format("sample", SeccompMode.On));
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

    private static string Format(string call, SeccompMode mode) => mode == SeccompMode.Log
        ? $"lguest: seccomp: {call} is outside the policy (allowed: --seccomp=log)"
        : $"lguest: seccomp: {call} is outside the policy: killed (SIGSYS)";

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
            if (mode == SeccompMode.Log)
            {
                if (_logged.Add(call))
                    WriteLine(Format(call, mode));
                var response = new Libc.SeccompNotifResp { Id = notification.Id, Flags = Libc.SeccompUserNotifFlagContinue };
                Libc.Ioctl(fd, Libc.SeccompIoctlNotifSend, &response);
                continue;
            }
            WriteLine(Format(call, mode));
            Kill(notification.Pid);
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

    private static unsafe void Kill(uint thread)
    {
        // The guest's memory is mapped into this process: no core file of it. SIGSYS's default action ends the
        // process; put it back in case a handler was installed.
        Libc.Prctl(Libc.PrSetDumpable, 0, 0, 0, 0);
        Libc.Signal(Libc.SIGSYS, 0);
        Libc.SystemCall(Libc.SysTgkill, (nuint)Libc.GetPid(), thread, Libc.SIGSYS);
        Thread.Sleep(Timeout.Infinite);
    }

    private static unsafe void WriteLine(string line)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(line + "\n");
        fixed (byte* p = bytes)
            Libc.Write(2, p, (nuint)bytes.Length);
    }
}
