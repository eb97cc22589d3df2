using System.Runtime.CompilerServices;

namespace Lguest.Devices;

/// <summary>The 11 reserved 32-bit words of fuse_init_in.unused (zero).</summary>
[InlineArray(11)]
internal struct FuseUnused11
{
    private uint _element;
}
