using Lguest.Memory;

namespace Lguest.Boot;

/// <summary>
/// A parsed and placed kernel, checked but not yet written: what <see cref="BzImageLoader"/> and
/// <see cref="ElfLoader"/> hand <see cref="KernelLoader"/>.
/// </summary>
internal sealed class KernelImage
{
    /// <summary>bzImage or ELF vmlinux.</summary>
    public required BootProtocolKind Format { get; init; }

    /// <summary>What to copy from the file, in address order, neither overlapping each other nor the boot area.</summary>
    public required IReadOnlyList<KernelSegment> Segments { get; init; }

    /// <summary>Memory the kernel claims beyond its segments before it reads the memory map (a bzImage's init_size area).</summary>
    public IReadOnlyList<BootMemoryRange> Reserved { get; init; } = [];

    /// <summary>Where the kernel image starts.</summary>
    public required GuestAddress KernelAddress { get; init; }

    /// <summary>The 32-bit entry, if the kernel has one.</summary>
    public GuestAddress? Entry32 { get; init; }

    /// <summary>The 64-bit entry, if the kernel has one.</summary>
    public GuestAddress? Entry64 { get; init; }

    /// <summary>The PVH entry, if the kernel has one.</summary>
    public GuestAddress? PvhEntry { get; init; }

    /// <summary>
    /// The setup header to start the zero page from: a bzImage's own header bytes (with fields the
    /// loader must set still as the image has them), or one made up for an ELF vmlinux.
    /// </summary>
    public required SetupHeader Header { get; init; }

    /// <summary>The header bytes exactly as the image has them (0x1f1 up to the header's end); empty for an ELF.</summary>
    public byte[] HeaderBytes { get; init; } = [];

    /// <summary>Whether <see cref="Header"/> came from the file.</summary>
    public bool HeaderFromImage => HeaderBytes.Length != 0;

    /// <summary>The longest command line the kernel takes, without the NUL.</summary>
    public required uint CmdlineSize { get; init; }

    /// <summary>The highest address the initrd's last byte may occupy.</summary>
    public required ulong InitrdAddrMax { get; init; }
}
