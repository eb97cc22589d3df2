using System.Diagnostics;
using System.Runtime.InteropServices;
using Lguest.Machine;
using Lguest.Snapshot;

namespace Lguest.Cli;

/// <summary>
/// The command line's snapshots: <c>--snapshot-to=DIR</c> writes one on SIGUSR1 (pause, snapshot, resume; one line on
/// stderr either way), and <c>--restore=DIR</c> reads the snapshot's machine first.
/// </summary>
internal static class SnapshotSignal
{
    // SIGUSR1 on Linux (signal(7)); PosixSignal names only the portable signals, and takes raw numbers for the rest.
    private const int SigUsr1 = 10;

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
    public static string? MissingDisk(RunArguments arguments) =>
        arguments.Devices.Where(d => d.Kind == DeviceKind.Block && !File.Exists(d.Value)).Select(d => $"disk image '{d.Value}': not found").FirstOrDefault();

    /// <summary>Writes a snapshot of <paramref name="launcher"/>'s guest into <paramref name="directory"/> on each SIGUSR1.</summary>
    public static PosixSignalRegistration Register(Launcher launcher, string directory, TextWriter error)
    {
        int busy = 0;
        return PosixSignalRegistration.Create((PosixSignal)SigUsr1, context =>
        {
            context.Cancel = true;
            if (Interlocked.Exchange(ref busy, 1) == 0)
                _ = Task.Run(async () => await TakeAsync(launcher, directory, error).ConfigureAwait(false)).ContinueWith(_ => Volatile.Write(ref busy, 0), TaskScheduler.Default);
        });
    }

    private static async Task TakeAsync(Launcher launcher, string directory, TextWriter error)
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
                $"pause {Stopwatch.GetElapsedTime(start, paused).TotalMilliseconds:F1} ms, snapshot {Stopwatch.GetElapsedTime(paused).TotalMilliseconds:F1} ms");
        }
        catch (Exception e) when (e is SnapshotException or IOException or UnauthorizedAccessException or MachineStateException)
        {
            error.WriteLine($"lguest: no snapshot: {e.Message}");
        }
        finally
        {
            try
            {
                await launcher.ResumeAsync().ConfigureAwait(false);
            }
            catch (MachineStateException)
            {
                // stopped meanwhile: nothing to resume
            }
        }
    }
}
