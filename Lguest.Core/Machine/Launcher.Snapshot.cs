using Lguest.Snapshot;

namespace Lguest.Machine;

// Snapshots of the running machine (restore is LauncherOptions.RestoreFrom: a new launcher, usually in a new process).
public sealed partial class Launcher
{
    /// <summary>
    /// Writes a snapshot of the paused machine (<see cref="PauseAsync"/> first, as Firecracker requires) into
    /// <paramref name="directory"/> (created if missing; a snapshot there is replaced): guest RAM as a sparse file,
    /// every vCPU's and the VM's state, every device's (see <c>Lguest.Core/Snapshot/README.md</c>). The machine stays
    /// paused; <see cref="ResumeAsync"/> goes on, or <see cref="Stop"/> ends it. A new launcher with
    /// <see cref="LauncherOptions.RestoreFrom"/> set to the directory and the same devices restores it.
    /// </summary>
    /// <returns>The snapshot's manifest: guest RAM's layout and how many bytes of it the image holds.</returns>
    /// <exception cref="MachineStateException">The machine is not <see cref="MachineState.Paused"/>.</exception>
    /// <exception cref="SnapshotException">The backend (/dev/lguest) or a device cannot take part in snapshots.</exception>
    /// <exception cref="IOException">A file cannot be written.</exception>
    public async Task<SnapshotManifest> SnapshotAsync(string directory, CancellationToken cancellation = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        await _control.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            MachineBoot boot = CurrentBoot("snapshot", MachineState.Paused);
            return await Task.Factory.StartNew(() => boot.CaptureSnapshot(directory), CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        finally
        {
            _control.Release();
        }
    }
}
