using Lguest.Memory;

namespace Lguest.Kvm;

/// <summary>
/// The page tables a 64-bit kernel is entered with: the first 4 GiB identity-mapped with 2 MiB pages
/// (boot.rst: "the range with setup_header.init_size from start address of loaded kernel and zero page
/// and command line buffer get ident mapping"; mapping all of low 4 GiB covers every such range).
/// Layout: PML4 at 0x9000, PDPT at 0xA000, four page directories at 0xB000..0xEFFF.
/// </summary>
internal static class IdentityPageTables
{
    /// <summary>The PML4, loaded into CR3.</summary>
    public static readonly GuestAddress Pml4 = new(0x9000);

    /// <summary>The page-directory-pointer table.</summary>
    public static readonly GuestAddress Pdpt = new(0xA000);

    /// <summary>The first of the four page directories.</summary>
    public static readonly GuestAddress PageDirectories = new(0xB000);

    /// <summary>The first byte past the tables.</summary>
    public static readonly GuestAddress End = new(0xF000);

    public const ulong Present = 1UL << 0;  // _PAGE_PRESENT
    public const ulong Writable = 1UL << 1; // _PAGE_RW
    public const ulong PageSize = 1UL << 7; // _PAGE_PSE: a 2 MiB page in a PDE

    private const int DirectoryCount = 4;
    private const int EntriesPerTable = 512;
    private const ulong LargePage = 2UL << 20;

    /// <summary>Writes the tables; returns the value for CR3.</summary>
    public static ulong Write(GuestMemory memory)
    {
        memory.Clear(Pml4, End.Value - Pml4.Value);
        memory.Write(Pml4, Pdpt.Value | Present | Writable);
        for (int d = 0; d < DirectoryCount; d++)
        {
            GuestAddress directory = PageDirectories.Offset((ulong)d * GuestMemoryLayout.PageSize);
            memory.Write(Pdpt.Offset((ulong)d * 8), directory.Value | Present | Writable);
            for (int e = 0; e < EntriesPerTable; e++)
            {
                ulong physical = ((ulong)d * EntriesPerTable + (ulong)e) * LargePage;
                memory.Write(directory.Offset((ulong)e * 8), physical | Present | Writable | PageSize);
            }
        }
        return Pml4.Value;
    }
}
