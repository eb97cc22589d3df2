using System.Text;
using System.Text.RegularExpressions;

namespace Lguest.Tests.Support;

/// <summary>
/// Pulls kernel log records out of the lines they interrupted. In the nested bed two kernels (L1's and
/// the L2 guest's) and the guest's programs share one serial console; a kernel writes a whole record
/// at once, a program's marker line may come in pieces, so a record can land inside a marker:
/// <c>GUEST-NET-SENT 9f… 98.64[  103.928592] watchdog: BUG: soft lockup…</c>. Each record that starts
/// in the middle of a line is moved, with its own newline, to just before that line, so the marker
/// reads whole again and the record is still there for whoever looks for it.
/// </summary>
public static partial class KernelLogUntangler
{
    // A printk record as the console shows it: "[    3.141592] text" up to and including its newline.
    [GeneratedRegex(@"\[ *\d+\.\d{6}\] [^\n]*(?:\n|$)", RegexOptions.CultureInvariant)]
    private static partial Regex Record();

    /// <summary>Returns <paramref name="console"/> with every mid-line kernel record moved before its line.</summary>
    public static string Untangle(string console)
    {
        ArgumentNullException.ThrowIfNull(console);
        var text = new StringBuilder(console);
        int searchFrom = 0;
        while (true)
        {
            Match record = Record().Match(text.ToString(), searchFrom);
            if (!record.Success)
                return text.ToString();
            int lineStart = record.Index == 0 ? 0 : text.ToString().LastIndexOf('\n', record.Index - 1) + 1;
            if (lineStart == record.Index)
            {
                searchFrom = record.Index + record.Length;
                continue;
            }
            string moved = record.Value.EndsWith('\n') ? record.Value : record.Value + "\n";
            text.Remove(record.Index, record.Length);
            text.Insert(lineStart, moved);
            // The interrupted line now starts after the moved record; it may hold another one.
            searchFrom = lineStart + moved.Length;
        }
    }
}
