namespace Lguest.Machine;

/// <summary>The machine the launcher builds.</summary>
public sealed class LauncherOptions
{
    /// <summary>The most RAM accepted: 1 TiB, far beyond what the CLI allows, so arithmetic on it never overflows.</summary>
    public const ulong MaxMemoryBytes = 1UL << 40;

    /// <summary>The least RAM a PC guest can boot in: the low megabyte plus room for a kernel.</summary>
    public const ulong MinMemoryBytes = 2UL << 20;

    /// <summary>The most vCPUs: the MADT's room and one byte of APIC ID.</summary>
    public const int MaxCpus = 255;

    /// <summary>Guest RAM in bytes.</summary>
    public ulong MemoryBytes { get; set; } = 512UL << 20;

    /// <summary>How many vCPUs.</summary>
    public int CpuCount { get; set; } = 1;

    /// <summary>End the run when the guest reboots instead of booting it again.</summary>
    public bool NoReboot { get; set; }

    /// <summary>
    /// What the guest's COM1 reads (the PC's serial console): the host's input, or null (or <see cref="Stream.Null"/>)
    /// for no input. Read by one background thread for the launcher's lifetime. Ignored by a machine without a UART.
    /// </summary>
    public Stream? ConsoleInput { get; set; }

    /// <summary>
    /// Where the guest's COM1 writes: the host's output (a terminal, a <see cref="Terminal.ConsoleCapture.Output"/>), or
    /// null to drop it. Written and flushed in batches by one background thread, never by a vCPU; everything the guest
    /// wrote is written out before <see cref="Launcher.Run"/> returns.
    /// </summary>
    public Stream? ConsoleOutput { get; set; }

    /// <summary>
    /// Make a driver that breaks the virtio rules fatal, as the lguest launcher did: the run ends with
    /// <see cref="GuestExitKind.BadDriver"/> and "&lt;device&gt;: bad driver: &lt;what&gt;". By default (false) the device
    /// alone suffers (DEVICE_NEEDS_RESET) and the guest runs on.
    /// </summary>
    public bool StrictDrivers { get; set; }

    /// <summary>
    /// Called once, on the thread running <see cref="Launcher.Run"/>, after the first boot has opened every host
    /// resource it needs (guest memory, the backend's VM, the kernel and initrd, every device's files and taps)
    /// and before any vCPU runs: where a launcher chroots and drops privileges, as the lguest launcher did. An
    /// exception from it ends the run: <see cref="Launcher.Run"/> throws it.
    /// </summary>
    public Action? BeforeFirstRun { get; set; }

    /// <summary>
    /// A snapshot directory (<see cref="Launcher.SnapshotAsync"/>) to restore instead of booting: the machine is built
    /// with the same devices (given again, in the same order: disks, taps and sockets are opened from the paths given
    /// now), guest RAM is mapped from the snapshot copy-on-write, and the guest goes on from where it was. null (the
    /// default) boots the launcher's image. <see cref="MemoryBytes"/> and <see cref="CpuCount"/> must be the
    /// snapshot's (<see cref="MachineSnapshot.Read"/> says them). A guest restored so that asks for a reset ends the
    /// run (there is no image to boot again).
    /// </summary>
    public string? RestoreFrom { get; set; }

    /// <summary>With <see cref="RestoreFrom"/>: the restored machine stays <see cref="MachineState.Paused"/> until <see cref="Launcher.ResumeAsync"/>.</summary>
    public bool RestorePaused { get; set; }

    /// <summary>
    /// With <see cref="RestoreFrom"/>: how much of the snapshot's memory image is read to check it before it is mapped.
    /// <see cref="Memory.ImageVerification.Sample"/> (the default) keeps a restore's cost independent of RAM;
    /// <see cref="Memory.ImageVerification.Full"/> reads every byte the image holds (seconds for gigabytes) and refuses a
    /// single flipped bit anywhere.
    /// </summary>
    public Memory.ImageVerification RestoreVerification { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming a bad option.</summary>
    public void Validate()
    {
        if (MemoryBytes < MinMemoryBytes || MemoryBytes > MaxMemoryBytes)
            throw new ArgumentException($"guest memory of {MemoryBytes >> 20} MiB is outside {MinMemoryBytes >> 20} MiB..{MaxMemoryBytes >> 20} MiB", nameof(MemoryBytes));
        if (CpuCount < 1 || CpuCount > MaxCpus)
            throw new ArgumentException($"{CpuCount} vCPUs is outside 1..{MaxCpus}", nameof(CpuCount));
        if (RestoreFrom is { Length: 0 })
            throw new ArgumentException("the snapshot directory to restore is empty", nameof(RestoreFrom));
    }
}
