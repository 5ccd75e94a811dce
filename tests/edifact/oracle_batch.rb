# Runs MedCom's EDIFACT converter on many files in one Ruby process (loading it costs most of a call).
# Usage: ruby -I<converter>/lib -I<stub> oracle_batch.rb (-x|-e) FILE...
# For each FILE it writes FILE.out (what the converter's command line prints) and FILE.err (its
# "ERROR:"/"WARNING:" lines, one per line).
require 'edifact_converter'

mode = ARGV.shift
ARGV.each do |path|
  errors = []
  out = ""
  begin
    text = EdifactConverter.read_file(path)
    if mode == '-e'
      result = EdifactConverter.convert_xml(text)
      out = result.edifact.to_s
    else
      result = EdifactConverter.convert_edifact(text)
      result.verify
      out = result.xml.to_s
    end
    result.properties[:errors].each { |e| errors << "ERROR:\t#{e}" }
    result.properties[:warnings].each { |e| errors << "WARNING:\t#{e}" }
  rescue StandardError, ScriptError => e
    errors << "CRASH:\t#{e.class}: #{e.message}"
  end
  File.open("#{path}.out", 'wb') { |f| f.write out }
  File.open("#{path}.err", 'wb') { |f| f.write errors.join("\n") }
end
