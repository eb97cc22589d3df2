using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Lguest.Cli.Api;

/// <summary>
/// A run with <c>--api-sock</c> or <c>--config-file</c>: the machine comes from the command line, the file, or (with
/// neither a kernel argument nor a file) from API calls ending in InstanceStart, as Firecracker waits for them. Then it
/// runs as any other (<see cref="RunCommand"/>), with the API socket driving it until the guest stops and lguest exits.
/// </summary>
internal static class ApiCommand
{
    public static ExitCode Execute(RunArguments arguments, TextWriter error)
    {
        var lines = new LastLineWriter(error);
        var machine = new ApiMachine(arguments);
        RunArguments? run = null;
        if (arguments.ConfigFile is { } file)
        {
            if (ConfigFile.Apply(file, machine) is { } fault)
                return Fail(error, $"--config-file '{file}': {fault}", ExitCode.BadInput);
            run = machine.ToRunArguments();
            machine.MarkStarted();
        }
        else if (arguments.HasKernel)
        {
            run = arguments;
            machine.MarkStarted();
        }

        // The run's own console logger (stderr, one line each): stdout is the guest's console.
        using ILoggerFactory loggerFactory = RunCommand.CreateConsoleLoggerFactory(arguments.Verbose ? LogLevel.Information : LogLevel.Warning);
        ApiServer? server = null;
        if (arguments.ApiSocket is { } socket)
        {
            try
            {
                server = ApiServer.StartAsync(socket, machine, loggerFactory).GetAwaiter().GetResult();
            }
            catch (IOException e)
            {
                return Fail(error, e.Message, ExitCode.BadInput);
            }
        }
        try
        {
            if (run is null)
            {
                (run, int signal) = WaitForStart(machine);
                if (run is null)
                    return (ExitCode)(128 + signal);
            }
            ExitCode code = RunCommand.Execute(run, RunEnvironment.Process(lines), onLauncher: machine.Attach);
            // An InstanceStart still waiting: the run ended before the guest ran, and the last error line says why.
            machine.FailStart(lines.LastLine ?? $"the machine stopped before it ran (exit code {(int)code})");
            return code;
        }
        finally
        {
            server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    // Waits for InstanceStart, or a signal that ends lguest first (its number, with no arguments).
    private static (RunArguments? Run, int Signal) WaitForStart(ApiMachine machine)
    {
        var signalled = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => OnSignal(c, 15));
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => OnSignal(c, 2));
        using PosixSignalRegistration sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => OnSignal(c, 1));
        Task.WaitAny(machine.StartRequested, signalled.Task);
        return machine.StartRequested.IsCompletedSuccessfully ? (machine.StartRequested.Result, 0) : (null, signalled.Task.Result);

        void OnSignal(PosixSignalContext context, int number)
        {
            context.Cancel = true;
            signalled.TrySetResult(number);
        }
    }

    private static ExitCode Fail(TextWriter error, string message, ExitCode code)
    {
        error.WriteLine($"lguest: {message}");
        return code;
    }
}
