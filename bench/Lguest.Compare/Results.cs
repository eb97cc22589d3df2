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
    }

    /// <summary>Which part of the harness wrote it: direct, devices or bed.</summary>
    public string Source { get; set; } = "";

    public string Name { get; set; } = "";

    public string Date { get; set; } = "";

    public string Conditions { get; set; } = "";

    public List<Figure> Figures { get; set; } = [];
}
