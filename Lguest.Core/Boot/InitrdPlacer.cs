using Lguest.Memory;

namespace Lguest.Boot;

/// <summary>
/// Finds where an initrd goes: page-aligned, as high as allowed, inside one RAM region, clear of
/// everything already placed (kernel, its init area, boot structures). Boot loaders put the initrd
/// high so the kernel's early allocations below it stay free.
/// </summary>
internal static class InitrdPlacer
{
    /// <summary>
    /// The highest page-aligned address where [address, +<paramref name="size"/>) lies in RAM, inside
    /// [<paramref name="lowest"/>, <paramref name="limit"/>) and clear of <paramref name="used"/>.
    /// </summary>
    /// <param name="layout">Guest RAM.</param>
    /// <param name="size">The bytes to place (nonzero).</param>
    /// <param name="lowest">The lowest address allowed.</param>
    /// <param name="limit">The first address not allowed (initrd_addr_max + 1, or 4 GiB).</param>
    /// <param name="used">Ranges already taken.</param>
    /// <param name="address">Where the initrd goes.</param>
    /// <param name="largestRoom">When it does not fit: the largest free page-aligned room, for the message.</param>
    public static bool TryPlace(GuestMemoryLayout layout, ulong size, ulong lowest, ulong limit, IReadOnlyList<BootMemoryRange> used,
        out GuestAddress address, out ulong largestRoom)
    {
        List<(ulong Start, ulong End)> taken = Merge(used);
        largestRoom = 0;
        for (int g = layout.Regions.Count - 1; g >= 0; g--)
        {
            GuestMemoryRegion region = layout.Regions[g];
            ulong low = AlignUp(Math.Max(region.Start.Value, lowest));
            ulong high = AlignDown(Math.Min(region.End.Value, limit));
            // Walk the free gaps of [low, high) from the top down, between the taken ranges.
            ulong top = high;
            for (int k = taken.Count - 1; k >= -1 && top > low; k--)
            {
                if (k >= 0 && taken[k].Start >= top)
                    continue; // wholly above the gap being considered
                ulong bottom = k >= 0 ? Math.Max(low, taken[k].End) : low;
                if (top > bottom)
                {
                    largestRoom = Math.Max(largestRoom, top - bottom);
                    if (top - bottom >= size)
                    {
                        address = new GuestAddress(AlignDown(top - size));
                        return true;
                    }
                }
                if (k >= 0)
                    top = Math.Min(top, taken[k].Start);
            }
        }
        address = default;
        return false;
    }

    /// <summary>The used ranges widened to whole pages, merged where they overlap or touch, in address order.</summary>
    private static List<(ulong Start, ulong End)> Merge(IReadOnlyList<BootMemoryRange> used)
    {
        var merged = new List<(ulong Start, ulong End)>();
        foreach (BootMemoryRange r in used.Where(r => r.Length != 0).OrderBy(r => r.Start))
        {
            ulong start = AlignDown(r.Start.Value), end = AlignUp(r.End.Value);
            if (merged.Count > 0 && start <= merged[^1].End)
                merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, end));
            else
                merged.Add((start, end));
        }
        return merged;
    }

    private static ulong AlignDown(ulong value) => value & ~(GuestMemoryLayout.PageSize - 1);

    private static ulong AlignUp(ulong value) =>
        value > ulong.MaxValue - (GuestMemoryLayout.PageSize - 1) ? AlignDown(ulong.MaxValue) : AlignDown(value + GuestMemoryLayout.PageSize - 1);
}
