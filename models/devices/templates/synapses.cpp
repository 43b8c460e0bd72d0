{# Synaptic pathway code for the event queue of synapses_push_spikes.cpp in this
   folder: the queue holds the source neurons with an event; each one's synapses are
   visited from the list CSpikeQueue::prepare built (in creation order; a contiguous
   range, as for all-to-all connections, without reading the list). Single-threaded. #}
{% extends 'common_synapses.cpp' %}

{% block maincode %}

    // This is only needed for the _debugmsg function below
    {# USES_VARIABLES { _synaptic_pre } #}

    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    {
    // Read in place (SynapticPathway::peek would copy the slot once more).
    const CSpikeQueue * const _queue = {{pathway.name}}.queue[0];
    const std::vector<int32_t> &_event_sources = _queue->queue[_queue->offset];
    const int _num_event_sources = _event_sources.size();
    for(int _source_k=0; _source_k<_num_event_sources; _source_k++)
    {
        const std::vector<int> &_source_synapses = _queue->synapses[_event_sources[_source_k]];
        const int _num_source_synapses = _source_synapses.size();
        const int * const _source_synapse_idx = _num_source_synapses ? &_source_synapses[0] : 0;
        // The list is in increasing order; a contiguous run of indices (every source
        // of an all-to-all connection) is visited without reading it.
        if (_num_source_synapses &&
            _source_synapse_idx[_num_source_synapses-1] - _source_synapse_idx[0] + 1 == _num_source_synapses)
        {
            const size_t _first_idx = _source_synapse_idx[0];
            for(int _k=0; _k<_num_source_synapses; _k++)
            {
                const size_t _idx = _first_idx + _k;
                const size_t _vectorisation_idx = _idx;
                {{vector_code|autoindent}}
            }
        }
        else
        {
            for(int _k=0; _k<_num_source_synapses; _k++)
            {
                const size_t _idx = _source_synapse_idx[_k];
                const size_t _vectorisation_idx = _idx;
                {{vector_code|autoindent}}
            }
        }
    }
    }
{% endblock %}


{% block extra_functions_cpp %}
void _debugmsg_{{codeobj_name}}()
{
    using namespace brian;
    std::cout << "Number of synapses: " << {{_dynamic__synaptic_pre}}.size() << endl;
}
{% endblock %}

{% block extra_functions_h %}
void _debugmsg_{{codeobj_name}}();
{% endblock %}

{% macro main_finalise() -%}
#ifdef DEBUG
_debugmsg_{{codeobj_name}}();
#endif
{% endmacro %}
