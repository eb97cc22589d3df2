namespace Lguest.Boot;

/// <summary>setup_header.loadflags bits, Documentation/x86/boot.rst.</summary>
[Flags]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711", Justification = "The boot protocol names the field loadflags.")]
public enum LoadFlags : byte
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>LOADED_HIGH: the protected-mode code is loaded at 0x100000 (a bzImage, not a zImage).</summary>
    LoadedHigh = 0x01,

    /// <summary>KASLR_FLAG: set by the kernel's decompressor when it randomized its address.</summary>
    KaslrFlag = 0x02,

    /// <summary>QUIET_FLAG: early messages suppressed.</summary>
    QuietFlag = 0x20,

    /// <summary>KEEP_SEGMENTS (protocol 2.07, obsolete since Linux 5.x): do not reload the segment registers at the 32-bit entry. The lguest launcher sets it.</summary>
    KeepSegments = 0x40,

    /// <summary>CAN_USE_HEAP: heap_end_ptr is valid.</summary>
    CanUseHeap = 0x80,
}
