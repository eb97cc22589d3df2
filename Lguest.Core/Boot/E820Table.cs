using System.Runtime.CompilerServices;

namespace Lguest.Boot;

/// <summary>The zero page's e820_table[E820_MAX_ENTRIES_ZEROPAGE].</summary>
[InlineArray(BootParams.MaxE820Entries)]
internal struct E820Table
{
    private E820Entry _first;
}
