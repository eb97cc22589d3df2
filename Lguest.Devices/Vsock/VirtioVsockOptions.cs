using System.Text;

namespace Lguest.Devices;

/// <summary>The virtio socket device's options.</summary>
public sealed class VirtioVsockOptions
{
    /// <summary>The guest's CID when none is given (Firecracker's and the usual first guest's).</summary>
    public const ulong DefaultGuestCid = 3;

    /// <summary>
    /// The largest CID: CIDs are 32-bit (virtio 1.2 §5.10.4: the upper 32 bits of guest_cid are zero) and
    /// 0xFFFFFFFF is VMADDR_CID_ANY.
    /// </summary>
    public const ulong MaxGuestCid = uint.MaxValue - 1;

    /// <summary>The largest split virtqueue (virtio 1.2 §2.7).</summary>
    public const ushort MaxQueueSize = 32768;

    /// <summary>The guest's CID, 3 to <see cref="MaxGuestCid"/> (0-2 are the hypervisor's, local and the host's).</summary>
    public ulong GuestCid { get; set; } = DefaultGuestCid;

    /// <summary>
    /// Firecracker's uds_path: the Unix socket where host programs connect (<c>CONNECT &lt;port&gt;\n</c>), and the
    /// prefix of the sockets the guest's connections go to (<c>&lt;path&gt;_&lt;port&gt;</c>). Null: only programs in this
    /// process reach the guest, through <see cref="VsockHost"/>.
    /// </summary>
    public string? UnixSocketPath { get; set; }

    /// <summary>Each of the three queues' maximum size: a power of two up to <see cref="MaxQueueSize"/> (Firecracker's 256).</summary>
    public ushort QueueSize { get; set; } = 256;

    /// <summary>
    /// Whether the guest's transmit notifications are served on the vCPU that notified, in its exit (QEMU's
    /// ioeventfd=off), while the device's worker sleeps: its packets go to their host ends and the credit update
    /// answering them into its receive buffers with no thread woken, as a socket pair's writes happen on the writer's
    /// thread (bench/README.md, issue 16). Default on; off: every notification wakes the worker through an ioeventfd.
    /// </summary>
    public bool ServeOnVcpu { get; set; } = true;

    /// <summary>The device's name in messages; null for "vsock".</summary>
    public string? Name { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (GuestCid < 3 || GuestCid > MaxGuestCid)
            throw new ArgumentException($"guest CID {GuestCid} is outside 3..{MaxGuestCid}", nameof(GuestCid));
        if (UnixSocketPath is not null)
        {
            if (UnixSocketPath.Length == 0 || UnixSocketPath.Contains('\0', StringComparison.Ordinal))
                throw new ArgumentException("the vsock socket path is empty or holds a NUL", nameof(UnixSocketPath));
            if (Encoding.UTF8.GetByteCount(UnixSocketPath) > UnixSocketBackend.MaxPathBytes)
                throw new ArgumentException($"the vsock socket path '{UnixSocketPath}' is longer than {UnixSocketBackend.MaxPathBytes} bytes", nameof(UnixSocketPath));
        }
        if (QueueSize == 0 || QueueSize > MaxQueueSize || !ushort.IsPow2(QueueSize))
            throw new ArgumentException($"queue size {QueueSize} is not a power of two up to {MaxQueueSize}", nameof(QueueSize));
        if (Name is not null && string.IsNullOrWhiteSpace(Name))
            throw new ArgumentException("the device name is blank", nameof(Name));
    }
}
