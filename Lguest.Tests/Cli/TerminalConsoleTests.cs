using System.Diagnostics;
using Lguest.Interop;
using Lguest.Tests.Support;

namespace Lguest.Tests.Cli;

/// <summary>
/// The lguest command with a real terminal on stdin and stdout (a pseudo-terminal the test types into), as a
/// person runs it: every key goes to the guest at once and as it is, nothing but the guest writes to the
/// terminal, and the terminal is as it was when lguest exits.
/// </summary>
[Category("Kvm")]
public class TerminalConsoleTests
{
    /// <summary>A guard against a hung run, far beyond what the tiny guest needs; not a time limit.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(2);

    private const uint Icanon = 0x2, Echo = 0x8; // c_lflag ICANON, ECHO (asm-generic/termbits.h)

    // Polls COM1 (LSR bit 0: data ready), echoes each byte with a-z in upper case: what comes back from
    // the guest is told apart from a host-side echo of what the test typed. '!' first: the guest runs.
    private const string UpperCaseEcho = """
        	movw $0x3f8, %dx
        	movb $'!', %al
        	outb %al, %dx
        1:	movw $0x3fd, %dx
        	inb %dx, %al
        	testb $1, %al
        	jz 1b
        	movw $0x3f8, %dx
        	inb %dx, %al
        	cmpb $'a', %al
        	jb 2f
        	cmpb $'z', %al
        	ja 2f
        	subb $0x20, %al
        2:	outb %al, %dx
        	jmp 1b
        """;

    [Test]
    public void Keys_typed_on_the_terminal_reach_the_guest_at_once_and_as_they_are_and_only_the_guest_writes_to_it()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using var terminal = PseudoTerminal.Open();
        using Process lguest = StartOnTerminal(terminal, GuestPrograms.Pvh("uppercase-echo", UpperCaseEcho));
        try
        {
            Assert.That(terminal.WaitFor(o => o.Contains('!', StringComparison.Ordinal), HangGuard, () => lguest.HasExited), Is.True,
                $"the guest never ran: {Describe(terminal, lguest)}");

            // No Enter: a line-buffered host would hold these back (and echo them itself). Ctrl-C must reach
            // the guest as a byte, not stop lguest with SIGINT.
            terminal.Type("ab\u0003c");
            terminal.WaitFor(o => o.Contains("AB\u0003C", StringComparison.Ordinal) || o.Contains("ab", StringComparison.Ordinal),
                HangGuard, () => lguest.HasExited);

            // Exactly the guest's bytes: no host echo, and no terminal set-up sequences of lguest's own.
            Assert.That(terminal.Output, Is.EqualTo("!AB\u0003C"), Describe(terminal, lguest));
            Assert.That(lguest.HasExited, Is.False, Describe(terminal, lguest));
        }
        finally
        {
            Stop(terminal, lguest);
        }
    }

    [Test]
    public void The_escape_stops_the_guest_with_exit_0_and_the_terminal_is_as_it_was()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using var terminal = PseudoTerminal.Open();
        Termios before = terminal.Attributes();
        using Process lguest = StartOnTerminal(terminal, GuestPrograms.Pvh("uppercase-echo", UpperCaseEcho));
        Assert.That(terminal.WaitFor(o => o.Contains('!', StringComparison.Ordinal), HangGuard, () => lguest.HasExited), Is.True,
            $"the guest never ran: {Describe(terminal, lguest)}");
        Termios during = terminal.Attributes();

        int code = Stop(terminal, lguest);

        Termios after = terminal.Attributes();
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Zero, Describe(terminal, lguest));
            Assert.That(during.LocalFlags & (Icanon | Echo), Is.Zero, "raw while the guest runs");
            Assert.That(after.LocalFlags, Is.EqualTo(before.LocalFlags), "c_lflag restored");
            Assert.That(after.InputFlags, Is.EqualTo(before.InputFlags), "c_iflag restored");
            Assert.That(after.OutputFlags, Is.EqualTo(before.OutputFlags), "c_oflag restored");
        });
    }

    [Test]
    public void Three_Ctrl_C_each_typed_alone_end_lguest_as_a_Ctrl_C_would_and_the_terminal_is_as_it_was()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using var terminal = PseudoTerminal.Open();
        Termios before = terminal.Attributes();
        using Process lguest = StartOnTerminal(terminal, GuestPrograms.Pvh("uppercase-echo", UpperCaseEcho));
        try
        {
            Assert.That(terminal.WaitFor(o => o.Contains('!', StringComparison.Ordinal), HangGuard, () => lguest.HasExited), Is.True,
                $"the guest never ran: {Describe(terminal, lguest)}");
            // The seed's gesture: each ^C in a read of its own (the guest echoes each one back before the next
            // is typed, so they cannot share a read), three within about a second.
            for (int i = 1; i <= 3 && !lguest.HasExited; i++)
            {
                terminal.Type("\u0003");
                int echoed = i;
                terminal.WaitFor(o => o.Count(c => c == '\u0003') >= echoed, HangGuard, () => lguest.HasExited);
            }
            Assert.That(lguest.WaitForExit(HangGuard), Is.True, $"three Ctrl-C did not end lguest: {Describe(terminal, lguest)}");
            lguest.WaitForExit();
            Termios after = terminal.Attributes();
            Assert.Multiple(() =>
            {
                Assert.That(lguest.ExitCode, Is.EqualTo(128 + 2), "as if SIGINT had ended it (the seed's kill(0, SIGINT))");
                Assert.That(after.LocalFlags, Is.EqualTo(before.LocalFlags), "c_lflag restored");
                Assert.That(after.InputFlags, Is.EqualTo(before.InputFlags), "c_iflag restored");
            });
        }
        finally
        {
            if (!lguest.HasExited)
                lguest.Kill(entireProcessTree: true);
        }
    }

    /// <summary>lguest (<see cref="LauncherBinary.Current"/>) with the terminal as stdin and stdout; stderr captured.</summary>
    private static Process StartOnTerminal(PseudoTerminal terminal, string guest)
    {
        LauncherBinary launcher = LauncherBinary.Current;
        TestContext.Out.WriteLine($"launcher: {launcher.Description}");
        var start = new ProcessStartInfo("sh") { RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"exec {launcher.ShellCommand} 64 \"$1\" <\"$0\" >\"$0\"");
        start.ArgumentList.Add(terminal.SlavePath);
        start.ArgumentList.Add(guest);
        var process = Process.Start(start)!;
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Ctrl-A x, lguest's console escape; returns the exit code (the process is killed if it hangs).</summary>
    private static int Stop(PseudoTerminal terminal, Process lguest)
    {
        if (!lguest.HasExited)
            terminal.Type("\u0001x");
        if (!lguest.WaitForExit(HangGuard))
        {
            lguest.Kill(entireProcessTree: true);
            Assert.Fail($"lguest ignored Ctrl-A x: {Describe(terminal, lguest)}");
        }
        lguest.WaitForExit();
        return lguest.ExitCode;
    }

    private static string Describe(PseudoTerminal terminal, Process lguest) =>
        $"terminal output: \"{terminal.Output.Replace("\u0003", "^C", StringComparison.Ordinal)}\"; " +
        (lguest.HasExited ? $"lguest exited {lguest.ExitCode}" : "lguest running");
}
