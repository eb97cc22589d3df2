using System.Diagnostics;
using System.Globalization;

namespace Lguest.Tests.Support;

/// <summary>
/// Asks the C compiler what the system headers say: compiles a program that prints each expression
/// (sizeof, offsetof, a macro) and returns the values. Ignores the test when gcc or the headers are missing.
/// </summary>
internal static class CLayout
{
    /// <param name="headers">The headers to include, in order.</param>
    /// <param name="expressions">The C expressions to print.</param>
    /// <param name="gnuSource">Define _GNU_SOURCE first (O_PATH, O_DIRECT and the like need it).</param>
    public static IReadOnlyDictionary<string, ulong> Evaluate(IEnumerable<string> headers, IEnumerable<string> expressions, bool gnuSource = false)
    {
        string[] exprs = expressions.Distinct().ToArray();
        string dir = Directory.CreateTempSubdirectory("lguest-clayout-").FullName;
        try
        {
            var source = new System.Text.StringBuilder();
            if (gnuSource)
                source.AppendLine("#define _GNU_SOURCE");
            source.AppendLine("#include <stdio.h>\n#include <stddef.h>");
            foreach (string h in headers)
                source.AppendLine(CultureInfo.InvariantCulture, $"#include <{h}>");
            source.AppendLine("int main(void) {");
            foreach (string e in exprs)
                source.AppendLine(CultureInfo.InvariantCulture, $"  printf(\"%llu\\n\", (unsigned long long)({e}));");
            source.AppendLine("  return 0;\n}");
            string c = Path.Combine(dir, "layout.c"), exe = Path.Combine(dir, "layout");
            File.WriteAllText(c, source.ToString());
            (int rc, string output) = Run("gcc", $"-o {exe} {c}");
            if (rc == -1)
                Assert.Ignore("gcc is not installed: cannot check struct layouts against the C headers");
            if (rc != 0)
                Assert.Ignore($"gcc could not compile against the headers (linux-libc-dev missing?): {output}");
            (rc, output) = Run(exe, "");
            Assert.That(rc, Is.Zero, output);
            string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.That(lines, Has.Length.EqualTo(exprs.Length));
            var values = new Dictionary<string, ulong>();
            for (int i = 0; i < exprs.Length; i++)
                values[exprs[i]] = ulong.Parse(lines[i], CultureInfo.InvariantCulture);
            return values;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int ExitCode, string Output) Run(string file, string arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            string stdout = process.StandardOutput.ReadToEnd();
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stdout + stderr);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (-1, "");
        }
    }
}
