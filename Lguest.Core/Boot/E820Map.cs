using Lguest.Memory;

namespace Lguest.Boot;

/// <summary>Builds the memory map a platform reports to the kernel (the zero page's e820 table, or the PVH memory map).</summary>
public static class E820Map
{
    /// <summary>
    /// The map for <paramref name="layout"/> on <paramref name="platform"/>, in address order.
    /// <list type="bullet">
    /// <item><see cref="BootPlatform.Lguest"/>: one RAM entry per RAM region (one for all of RAM with the
    /// flat layout), as the lguest launcher reported it.</item>
    /// <item><see cref="BootPlatform.Pc"/>: the PC map: RAM [0, 0x9fc00), reserved [0x9fc00, 1 MiB)
    /// (EBDA, VGA hole, option ROMs, BIOS; the ACPI tables live there), RAM from 1 MiB to the top of
    /// the first region and RAM above 4 GiB for the rest. The MMIO hole is left out of the map, as
    /// QEMU leaves it, so the kernel sees a gap where PCI devices may live.</item>
    /// </list>
    /// </summary>
    /// <exception cref="ArgumentException">The layout needs more entries than the zero page holds (128).</exception>
    public static IReadOnlyList<E820Entry> Build(GuestMemoryLayout layout, BootPlatform platform)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var map = new List<E820Entry>();
        if (platform == BootPlatform.Lguest)
        {
            foreach (GuestMemoryRegion r in layout.Regions)
                map.Add(new E820Entry(r.Start.Value, r.Size, E820Type.Ram));
        }
        else
        {
            bool legacyArea = false;
            foreach (GuestMemoryRegion r in layout.Regions)
            {
                ulong start = r.Start.Value, end = r.End.Value;
                if (start < PcLowMemory.Ebda)
                    map.Add(new E820Entry(start, Math.Min(end, PcLowMemory.Ebda) - start, E820Type.Ram));
                if (start < PcLowMemory.HighMemory)
                    legacyArea = true;
                ulong high = Math.Max(start, PcLowMemory.HighMemory);
                if (end > high)
                    map.Add(new E820Entry(high, end - high, E820Type.Ram));
            }
            if (legacyArea)
                map.Add(new E820Entry(PcLowMemory.Ebda, PcLowMemory.HighMemory - PcLowMemory.Ebda, E820Type.Reserved));
            map.Sort((a, b) => a.Address.CompareTo(b.Address));
        }
        if (map.Count > BootParams.MaxE820Entries)
            throw new ArgumentException($"the layout needs {map.Count} memory map entries; the zero page holds {BootParams.MaxE820Entries}", nameof(layout));
        return map;
    }
}
