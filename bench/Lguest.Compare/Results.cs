using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lguest.Compare;

/// <summary>
/// Everything the report shows, kept in bench/results.json: a rerun of some sections replaces those and
/// keeps the others (each section carries its own date and load).
/// </summary>
internal sealed class Results
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        IncludeFields = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, // NaN marks a failed run
        Converters = { new JsonStringEnumConverter() },
    };

    public MachineInfo? Machine { get; set; }

    public int Runs { get; set; }

    public Dictionary<string, string> Vmms { get; set; } = new(StringComparer.Ordinal);

    public List<SectionResult> Sections { get; set; } = [];

    /// <summary>
    /// Paragraphs written by hand under a section's heading (keyed by the section's name): what a reader needs beside
    /// the table, such as which change a figure was taken with. A rerun of the section keeps them (results.md is
    /// rewritten from this file each run, so a note put only in results.md would be lost); their author removes a
    /// note that the new figures make stale.
    /// </summary>
    public Dictionary<string, List<string>> Notes { get; set; } = new(StringComparer.Ordinal);

    public static Results Load(string path)
    {
        if (!File.Exists(path))
            return new Results();
        try
        {
            return JsonSerializer.Deserialize<Results>(File.ReadAllText(path), Json) ?? new Results();
        }
        catch (JsonException)
        {
            return new Results(); // an older format: start afresh
        }
    }

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");

    /// <summary>
    /// Puts the figures of a rerun of some of a section's cases (bench/run.sh --cases) into the sections
    /// <paramref name="source"/> wrote last time: a figure of the same name is replaced where it stood, a new one is
    /// added, the others are kept, so rerunning one case does not drop the rest of the table. The section's conditions
    /// then say both when the rerun cases and when the kept ones were taken.
    /// </summary>
    public void Merge(string source, List<SectionResult> fresh)
    {
        var merged = new List<SectionResult>();
        foreach (SectionResult section in fresh)
        {
            SectionResult? old = Sections.Find(s => s.Source == source && s.Name == section.Name);
            if (old is null)
            {
                merged.Add(section);
                continue;
            }
            var figures = new List<Figure>(old.Figures);
            foreach (Figure figure in section.Figures)
            {
                int at = figures.FindIndex(f => f.Name == figure.Name);
                if (at >= 0)
                    figures[at] = figure;
                else
                    figures.Add(figure);
            }
            bool keptAny = old.Figures.Exists(f => !section.Figures.Exists(n => n.Name == f.Name));
            string conditions = keptAny ? $"{section.Conditions}{EarlierCases}{EarlierOf(old, section.Machine)}" : section.Conditions;
            merged.Add(new SectionResult(section.Name, conditions, figures));
        }
        Replace(source, [.. merged, .. Sections.Where(s => s.Source == source && !fresh.Exists(f => f.Name == s.Name))]);
    }

    private const string EarlierCases = "; the other cases as taken earlier: ";

    // What an old section's conditions said of when (and, if not on this run's host, where) its figures were taken,
    // without its own earlier-cases tail twice.
    private static string EarlierOf(SectionResult old, string freshMachine)
    {
        int tail = old.Conditions.IndexOf(EarlierCases, StringComparison.Ordinal);
        string own = tail < 0 ? old.Conditions : old.Conditions[..tail];
        string earlier = tail < 0 ? "" : old.Conditions[(tail + EarlierCases.Length)..];
        string where = old.Machine.Length == 0 || old.Machine == freshMachine || own.Contains(old.Machine, StringComparison.Ordinal) ? "" : $" on {old.Machine}";
        string stamped = old.Date.Length < 10 || own.StartsWith(old.Date[..10], StringComparison.Ordinal) ? own : $"{old.Date}{where}: {own}";
        return tail < 0 ? stamped : $"{stamped}; {earlier}";
    }

    /// <summary>Replaces every section that <paramref name="source"/> (direct, devices, bed) wrote last time.</summary>
    public void Replace(string source, List<SectionResult> fresh)
    {
        foreach (SectionResult section in fresh)
            section.Source = source;
        Sections.RemoveAll(s => s.Source == source);
        Sections.AddRange(fresh);
        Sections = [.. Sections.OrderBy(s => Array.IndexOf(Program.Options.AllSections, s.Source))];
    }
}

/// <summary>One section's figures, when they were taken and under what load.</summary>
internal sealed class SectionResult
{
    public SectionResult()
    {
    }

    public SectionResult(string name, string conditions, List<Figure> figures)
    {
        Name = name;
        Conditions = conditions;
        Figures = figures;
        Date = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
        Machine = MachineInfo.Brief();
    }

    /// <summary>Which part of the harness wrote it: direct, devices or bed.</summary>
    public string Source { get; set; } = "";

    public string Name { get; set; } = "";

    public string Date { get; set; } = "";

    /// <summary>The host it was measured on (<see cref="MachineInfo.Brief"/>); empty in results written before it was kept.</summary>
    public string Machine { get; set; } = "";

    public string Conditions { get; set; } = "";

    public List<Figure> Figures { get; set; } = [];
}
