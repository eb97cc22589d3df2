using System.Runtime.CompilerServices;

namespace Lguest.Devices;

/// <summary>The 7 reserved 32-bit words of fuse_init_out.unused (zero).</summary>
[InlineArray(7)]
internal struct FuseUnused7
{
    private uint _element;
}
