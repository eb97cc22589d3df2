using System.Diagnostics;
using System.Runtime.InteropServices;
using Lguest.Machine;
using Lguest.Snapshot;

namespace Lguest.Cli;

/// <summary>
/// The command line's snapshots: <c>--snapshot-to=DIR</c> writes one on SIGUSR1 (pause, snapshot, resume; one line on
/// stderr either way) or on SIGUSR2 (pause, snapshot, and the guest stays paused, as Firecracker's does after
/// <c>PUT /snapshot/create</c>: its disks are then as the snapshot knows them, to be copied before lguest is stopped),
/// and <c>--restore=DIR</c> reads the snapshot's machine first.
/// </summary>
internal static class SnapshotSignal
{
    // SIGUSR1 on Linux (signal(7)); PosixSignal names only the portable signals, and takes raw numbers for the rest.
    private const int SigUsr1 = 10;

    // SIGUSR2 on Linux (signal(7)).
    private const int SigUsr2 = 12;

    /// <summary>Reads the snapshot's machine (its RAM and vCPUs); false with one line when it is missing or damaged.</summary>
    public static bool TryReadMachine(string directory, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MachineSnapshot? machine,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        machine = null;
        error = null;
        if (!Directory.Exists(directory))
        {
            error = $"--restore: '{directory}' is not a directory";
            return false;
        }
        try
        {
            machine = MachineSnapshot.Read(directory);
            return true;
        }
        catch (SnapshotException e)
        {
            error = e.Message;
            return false;
        }
    }

    /// <summary>
    /// The first disk of <paramref name="arguments"/> whose image is missing, as one line; null when all are there.
    /// Checked before a restore maps anything: the snapshot's guest cannot run without the disks it had.
    /// </summary>
    /// <remarks>
    /// A loop, not LINQ: Where(...).Select(...) calls the generic virtual Iterator.Select, which the NativeAOT binary
    /// resolves at run time by starting its type loader; perf of a restore in L1 found it the only such call on the
    /// way to the guest's first instruction (without -v).
    /// </remarks>
    public static string? MissingDisk(RunArguments arguments)
    {
        foreach (DeviceOption device in arguments.Devices)
        {
            if (device.Kind == DeviceKind.Block && !File.Exists(device.Value))
                return $"disk image '{device.Value}': not found";
        }
        return null;
    }

    /// <summary>
    /// Writes a snapshot of <paramref name="launcher"/>'s guest into <paramref name="directory"/> on each SIGUSR1 (the
    /// guest resumes) and SIGUSR2 (it stays paused); a signal while a snapshot is being written is ignored.
    /// </summary>
    public static IDisposable Register(Launcher launcher, string directory, TextWriter error)
    {
        int busy = 0;
        PosixSignalRegistration On(int signal, bool resume) => PosixSignalRegistration.Create((PosixSignal)signal, context =>
        {
            context.Cancel = true;
            if (Interlocked.Exchange(ref busy, 1) == 0)
                _ = Task.Run(async () => await TakeAsync(launcher, directory, error, resume).ConfigureAwait(false)).ContinueWith(_ => Volatile.Write(ref busy, 0), TaskScheduler.Default);
        });
        return new Registrations(On(SigUsr1, resume: true), On(SigUsr2, resume: false));
    }

    private static async Task TakeAsync(Launcher launcher, string directory, TextWriter error, bool resume)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            await launcher.PauseAsync().ConfigureAwait(false);
        }
        catch (MachineStateException e)
        {
            error.WriteLine($"lguest: no snapshot: {e.Message}");
            return;
        }
        try
        {
            long paused = Stopwatch.GetTimestamp();
            SnapshotManifest manifest = await launcher.SnapshotAsync(directory).ConfigureAwait(false);
            error.WriteLine($"lguest: snapshot written to {directory}: {manifest.Memory.DataBytes >> 20} MiB of {manifest.Layout.TotalSize >> 20} MiB of RAM in the image, " +
                $"pause {Stopwatch.GetElapsedTime(start, paused).TotalMilliseconds:F1} ms, snapshot {Stopwatch.GetElapsedTime(paused).TotalMilliseconds:F1} ms" +
                (resume ? "" : "; the guest stays paused"));
        }
        catch (Exception e) when (e is SnapshotException or IOException or UnauthorizedAccessException or MachineStateException)
        {
            error.WriteLine($"lguest: no snapshot: {e.Message}");
        }
        finally
        {
            try
            {
                if (resume)
                    await launcher.ResumeAsync().ConfigureAwait(false);
            }
            catch (MachineStateException)
            {
                // stopped meanwhile: nothing to resume
            }
        }
    }

    private sealed class Registrations(PosixSignalRegistration resume, PosixSignalRegistration stayPaused) : IDisposable
    {
        public void Dispose()
        {
            resume.Dispose();
            stayPaused.Dispose();
        }
    }
}
