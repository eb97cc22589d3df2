namespace Lguest.Cli.Api;

/// <summary>
/// GET and PUT /machine-config (Firecracker's MachineConfiguration): the vCPUs and the RAM. Setting it is pre-boot
/// only. lguest has no SMT topology, CPU templates, dirty-page tracking or huge pages to offer: asking for them is
/// refused rather than ignored.
/// </summary>
/// <param name="VcpuCount">How many vCPUs.</param>
/// <param name="MemSizeMib">Guest RAM in MiB.</param>
/// <param name="Smt">Simultaneous multithreading: only false.</param>
/// <param name="CpuTemplate">Only "None".</param>
/// <param name="TrackDirtyPages">Only false.</param>
/// <param name="HugePages">Only "None".</param>
internal sealed record MachineConfiguration(int VcpuCount, int MemSizeMib, bool Smt = false, string? CpuTemplate = null,
    bool TrackDirtyPages = false, string? HugePages = null)
{
    /// <summary>Firecracker's default machine: 1 vCPU, 128 MiB.</summary>
    public static MachineConfiguration Default { get; } = new(1, 128);

    /// <summary>The most vCPUs Firecracker's API accepts; lguest's machine holds more, but a client of this API expects this bound.</summary>
    public const int MaxVcpus = 32;

    /// <summary>Why the configuration cannot be used, or null.</summary>
    public string? Validate()
    {
        if (VcpuCount is < 1 or > MaxVcpus)
            return $"The vCPU number is invalid! The vCPU number can only be 1 or an even number when SMT is enabled, and at most {MaxVcpus}.";
        if (MemSizeMib < 0 || (ulong)MemSizeMib < Machine.LauncherOptions.MinMemoryBytes >> 20 || (ulong)MemSizeMib > Machine.LauncherOptions.MaxMemoryBytes >> 20)
            return $"The memory size (MiB) is invalid: {MemSizeMib} is outside {Machine.LauncherOptions.MinMemoryBytes >> 20}..{Machine.LauncherOptions.MaxMemoryBytes >> 20}.";
        if (Smt)
            return "Enabling simultaneous multithreading is not supported by lguest.";
        if (CpuTemplate is not (null or "None"))
            return $"CPU templates are not supported by lguest (asked for '{CpuTemplate}').";
        if (TrackDirtyPages)
            return "Dirty page tracking is not supported by lguest.";
        if (HugePages is not (null or "None"))
            return $"Huge pages are not supported by lguest (asked for '{HugePages}').";
        return null;
    }
}
