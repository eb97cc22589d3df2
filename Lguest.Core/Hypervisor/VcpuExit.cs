namespace Lguest.Hypervisor;

/// <summary>
/// One exit from a vCPU, as a value the run loop above the seam switches on. For I/O and MMIO,
/// <see cref="Data"/> is the backend's own buffer (on KVM, the shared kvm_run page), so an exit costs
/// no allocation; it is valid only until the next <see cref="IVcpu.Run"/>, which completes a read
/// with whatever the run loop put there.
/// </summary>
public readonly ref struct VcpuExit
{
    /// <summary>Creates an exit.</summary>
    public VcpuExit(VcpuExitReason reason, ulong address = 0, Span<byte> data = default, string? detail = null)
    {
        Reason = reason;
        Address = address;
        Data = data;
        Detail = detail;
    }

    /// <summary>Why the vCPU stopped.</summary>
    public VcpuExitReason Reason { get; }

    /// <summary>The port (I/O) or guest-physical address (MMIO) accessed.</summary>
    public ulong Address { get; }

    /// <summary>The bytes written, or the buffer to fill for a read; its length is the access width.</summary>
    public Span<byte> Data { get; }

    /// <summary>A human-readable explanation for <see cref="VcpuExitReason.Failed"/> and <see cref="VcpuExitReason.Shutdown"/>.</summary>
    public string? Detail { get; }

    /// <inheritdoc />
    public override string ToString() => Reason switch
    {
        VcpuExitReason.IoIn or VcpuExitReason.IoOut => $"{Reason} port 0x{Address:x} width {Data.Length}",
        VcpuExitReason.MmioRead or VcpuExitReason.MmioWrite => $"{Reason} 0x{Address:x} width {Data.Length}",
        _ => Detail is null ? Reason.ToString() : $"{Reason}: {Detail}",
    };
}
