using System.Runtime.InteropServices;

namespace Lguest.Virtio;

/// <summary>struct virtq_used_elem, virtio 1.2 §2.7.8: a chain returned to the guest.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public readonly struct VringUsedElement
{
    /// <summary>The size of one used element in guest memory.</summary>
    public const int Size = 8;

    /// <summary>Creates a used element.</summary>
    public VringUsedElement(uint id, uint length)
    {
        Id = id;
        Length = length;
    }

    /// <summary>Index of the chain's head descriptor.</summary>
    public uint Id { get; }

    /// <summary>Bytes the device wrote into the chain's writable buffers.</summary>
    public uint Length { get; }
}
