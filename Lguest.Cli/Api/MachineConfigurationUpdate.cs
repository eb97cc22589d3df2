namespace Lguest.Cli.Api;

/// <summary>PATCH /machine-config: the fields given replace the current ones (pre-boot only).</summary>
/// <param name="VcpuCount">How many vCPUs, or null to keep.</param>
/// <param name="MemSizeMib">Guest RAM in MiB, or null to keep.</param>
/// <param name="Smt">As in <see cref="MachineConfiguration"/>.</param>
/// <param name="CpuTemplate">As in <see cref="MachineConfiguration"/>.</param>
/// <param name="TrackDirtyPages">As in <see cref="MachineConfiguration"/>.</param>
/// <param name="HugePages">As in <see cref="MachineConfiguration"/>.</param>
internal sealed record MachineConfigurationUpdate(int? VcpuCount = null, int? MemSizeMib = null, bool? Smt = null, string? CpuTemplate = null,
    bool? TrackDirtyPages = null, string? HugePages = null)
{
    /// <summary><paramref name="current"/> with the fields given.</summary>
    public MachineConfiguration ApplyTo(MachineConfiguration current) => new(VcpuCount ?? current.VcpuCount, MemSizeMib ?? current.MemSizeMib,
        Smt ?? current.Smt, CpuTemplate ?? current.CpuTemplate, TrackDirtyPages ?? current.TrackDirtyPages, HugePages ?? current.HugePages);
}
