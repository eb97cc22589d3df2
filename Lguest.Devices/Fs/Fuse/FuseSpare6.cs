using System.Runtime.CompilerServices;

namespace Lguest.Devices;

/// <summary>The 6 reserved 32-bit words of fuse_kstatfs.spare (zero).</summary>
[InlineArray(6)]
internal struct FuseSpare6
{
    private uint _element;
}
