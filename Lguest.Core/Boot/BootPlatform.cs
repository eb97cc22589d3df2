namespace Lguest.Boot;

/// <summary>The machine the kernel is loaded for: it decides the memory map and the boot structures' places.</summary>
public enum BootPlatform
{
    /// <summary>
    /// A PC (the machine KVM runs here): the <see cref="PcLowMemory"/> map, hardware_subarch 0, 64-bit or PVH entry when
    /// the kernel has one.
    /// </summary>
    Pc,

    /// <summary>An lguest guest on /dev/lguest: the <see cref="LguestLowMemory"/> map, hardware_subarch 1, 32-bit entry.</summary>
    Lguest,
}
