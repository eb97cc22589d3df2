using System.Net.Sockets;

namespace Lguest.Cli;

/// <summary>
/// A test-only hook: with <c>LGUEST_SECCOMP_SELFTEST=1</c> in the environment, a thread opens an IPv4 socket a
/// second after the filter is installed, a call no policy allows, so the tests see the process die of SIGSYS
/// with the one line naming the call while a real guest runs.
/// </summary>
internal static class SeccompSelfTest
{
    public const string Variable = "LGUEST_SECCOMP_SELFTEST";

    public static void ArmIfAsked()
    {
        if (Environment.GetEnvironmentVariable(Variable) != "1")
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
}
