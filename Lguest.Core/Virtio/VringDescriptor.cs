using System.Runtime.InteropServices;

namespace Lguest.Virtio;

/// <summary>struct virtq_desc, virtio 1.2 §2.7.5: one entry of a descriptor table, as the guest wrote it.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public readonly struct VringDescriptor
{
    /// <summary>The size of one descriptor in guest memory.</summary>
    public const int Size = 16;

    /// <summary>VIRTQ_DESC_F_NEXT: the chain continues at <see cref="Next"/>.</summary>
    public const ushort FlagNext = 1;

    /// <summary>VIRTQ_DESC_F_WRITE: the buffer is device-writable (otherwise device-readable).</summary>
    public const ushort FlagWrite = 2;

    /// <summary>VIRTQ_DESC_F_INDIRECT: the buffer holds a table of descriptors, §2.7.5.3.</summary>
    public const ushort FlagIndirect = 4;

    /// <summary>Creates a descriptor (tests and host-side drivers write rings with it).</summary>
    public VringDescriptor(ulong address, uint length, ushort flags, ushort next)
    {
        Address = address;
        Length = length;
        Flags = flags;
        Next = next;
    }

    /// <summary>Guest-physical address of the buffer.</summary>
    public ulong Address { get; }

    /// <summary>Length of the buffer in bytes.</summary>
    public uint Length { get; }

    /// <summary>VIRTQ_DESC_F_* flags.</summary>
    public ushort Flags { get; }

    /// <summary>Index of the next descriptor when <see cref="FlagNext"/> is set.</summary>
    public ushort Next { get; }
}
